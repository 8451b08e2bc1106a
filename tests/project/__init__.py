"""The project as a whole: the house's rules, docs, the package users install, types, secrets."""
