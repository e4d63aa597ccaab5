"""WebSocket URLs (intellibrowse.asgi wraps them in origin, session and token checks)."""

from django.urls import path

from intellibrowse import ids  # noqa: F401  registers `<id:...>`
from monitoring import consumers

websocket_urlpatterns = [
    path("ws/executions/<id:execution_id>/", consumers.ExecutionConsumer.as_asgi()),
    path("ws/projects/<id:project_id>/", consumers.ProjectConsumer.as_asgi()),
]
