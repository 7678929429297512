"""The local AWS: moto served on 127.0.0.1, extended with a CodeDeploy ECS blue/green simulation."""
