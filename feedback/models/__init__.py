from feedback.models.arena import Battle, Conversation, Message

__all__ = ["Battle", "Conversation", "Message"]
