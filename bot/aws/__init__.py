"""The AWS room, the only code that imports boto3: typed clients and calls (``calls``), ECR (``ecr``), the
ECS task definitions every engine deploys (``taskdefs``), one sub-room per engine (``codedeploy``), the
DynamoDB store and the events queue."""
