"""Channel adapters behind one narrow protocol, registered explicitly from settings."""
