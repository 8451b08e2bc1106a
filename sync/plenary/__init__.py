"""The plenary cycle: meeting dates and reminders, agendas, minutes."""
