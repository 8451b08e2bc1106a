"""Stakeholders, consent, the audience in Mailchimp, forget, newsletters."""
