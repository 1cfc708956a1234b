"""What a handler is handed and returns (context), the parameter layer (params), and run/child ids."""
