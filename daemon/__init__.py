"""ccserd: live speech emotion recognition, microphone to ZeroMQ events."""
