"""Task handlers, one module per workflow; see base.py for the contract and registry.py for the list."""
