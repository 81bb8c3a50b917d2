"""The verifier service: appraises device evidence, signs results, keeps the audit log.

Will hold the Flask app factory, pure appraisal, storage and the log. Never imports `edge`.
"""
