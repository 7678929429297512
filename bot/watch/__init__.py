"""The watch loop that follows every deployment in flight, the rules it applies on the clock, and the
optional events wake-up."""
