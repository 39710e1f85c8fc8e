"""The rules of the department, framework-free: services take a session and never commit."""
