"""The device image: models and their manifest, release manifest and measurement,
provisioning, systemd units. May import `attest`, nothing else of the project.
"""
