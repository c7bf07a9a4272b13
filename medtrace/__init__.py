"""medtrace: serial-number lifecycle traceability for medical-device makers."""
