"""The plenary cycle: meeting dates and reminders, minutes (agendas are in reports)."""
