"""Bootstrap: what an alliance should have, what exists, the plan between them, and its effects."""
