"""Real time below serve: the drain of deliveries, one read per item, the notes lane, bursts."""
