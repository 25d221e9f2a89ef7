"""Transport-free conversation core and its channel adapters."""
