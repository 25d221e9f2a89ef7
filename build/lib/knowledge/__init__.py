"""The knowledge base: YAML files validated into frozen objects, and the matcher over them."""
