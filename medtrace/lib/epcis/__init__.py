"""EPCIS 2.0 / CBV 2.0 validation and normalisation (pure Python, no Django)."""
