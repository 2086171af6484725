"""The HTTP gateway: Starlette on uvicorn, calling the nameko services over AMQP RPC."""
