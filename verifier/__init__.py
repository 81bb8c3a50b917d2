"""The verifier service: appraises device evidence, signs results, keeps the audit log.

`verifier.app.create_app(config)` builds the Flask app; `verifier.appraisal.appraise` is the
pure appraisal; docs/verifier.md describes the API, the reason codes and the log. Imports
attest; never imports edge.
"""
