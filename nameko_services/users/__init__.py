"""The users service: accounts, profiles, roles and OAuth 2.0 tokens."""
