"""Operating the platform: deploy (gRPC code servers, their workspace), doctor."""
