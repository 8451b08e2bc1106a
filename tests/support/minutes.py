"""Minutes of one plenary as a coordinator writes them (the YAML form)."""

MINUTES_YAML = """\
meeting: gap-workshop
date: 2027-06-07
host: Learning Hub Friesland
attendees: [Anna de Vries, bram.visser@example.org]
absentees:
  - Carla Mulder (example)
items:
  - subject: Welcome
    comment: All welcome
  - subject: Research findings
    comment: The gaps were discussed.
    actions:
      - action: Publish the research summary
        responsible: [Daan Bakker, anna.devries@example.org]
        due: 2027-07-01
  - subject: Mapping
    action: Map the organisations on one map
    responsible: Gerrit Hoekstra (example)
    due: 15-07-2027
"""
