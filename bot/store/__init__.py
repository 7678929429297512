"""The embedded store (SQLite, one replica) behind the Store port; DynamoDB (several) is in bot/aws."""
