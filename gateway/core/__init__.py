"""The pure core: data in, decisions out. Imports nothing else of the gateway."""
