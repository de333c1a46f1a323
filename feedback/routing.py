from django.urls import path

from feedback.arena.consumers import ArenaConsumer

websocket_urlpatterns = [
    path("ws/arena/<slug:slug>/", ArenaConsumer.as_asgi()),
]
