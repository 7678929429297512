"""The only package that imports boto3: ECR, ECS and CodeDeploy gateways."""
