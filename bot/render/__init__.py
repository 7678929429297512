"""The rendering room: every sentence deploybot says and every Block Kit layout it shows, composed from
records and facts. Pure: plain strings and Block Kit as JSON-ready dicts; ``bot.slack`` sends them."""
