"""The stakeholder database, consent, the Mailchimp audience, erasure and the newsletter."""
