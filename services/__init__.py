"""The Restate deployment: tenant lifecycle workflow handlers served over ASGI."""
