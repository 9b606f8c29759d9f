# A load test of a deployed release: Locust's users ask for the greeting and the health page
# as fast as they get answers. prod's performance check runs it against perf.
from locust import HttpUser, constant, task


class Visitor(HttpUser):
    wait_time = constant(0)

    @task(3)
    def greeting(self):
        self.client.get("/", name="GET /")

    @task
    def health(self):
        self.client.get("/health", name="GET /health")
