"""WebSocket URLs (intellibrowse.asgi wraps them in origin, session and token checks)."""

from django.urls import path

from monitoring import consumers

websocket_urlpatterns = [
    path("ws/executions/<int:execution_id>/", consumers.ExecutionConsumer.as_asgi()),
    path("ws/projects/<int:project_id>/", consumers.ProjectConsumer.as_asgi()),
]
