"""Raw data: generation, the landing zone, arrivals, the read set, raw assets."""
