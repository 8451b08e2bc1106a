"""Vendor limits held across every worker of a deployment (PostgreSQL or in-process)."""
