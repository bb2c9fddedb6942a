"""gRPC API (grpc.aio): the generated messages and stubs, and the servicer (`server`)."""
