"""Plumbing shared by every service; never imports a service package."""
