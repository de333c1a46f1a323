"""Fill the database with synthetic but realistic pool data, for demos and benchmarks.

    python manage.py demo_data --battles 1000000 --seed 7 [--community demo] [--batch-size 5000]

What it writes, in the community (created if missing; `demo` by default), everything in the
state a release includes; it marks the community `has_synthetic_data`, so that its task,
release and leaderboard pages and its releases' datasheets say the pool is synthetic:

- 15 model endpoints (OpenAI-compatible, names like `atlas-7b-chat`, base URLs under `.invalid`)
  with a latent strength each. They are shared by all communities and inactive, as retired models
  are: no arena draws them and no health check calls them, but their battles stay in the pool.
  Votes follow a Bradley–Terry model: 10% ties, 3% "both bad", and among the other votes
  P(i beats j) = 1 / (1 + 10^((Rj - Ri) / 400)).
- A few hundred volunteers, members who accepted the community's licence (some work only in
  one language). They judge the battles and review the answers.
- N voted battles in arena conversations: 85% of one turn, 15% of two (the follow-up stored
  under each side's answer, the second vote never blind). Prompts come from a small built-in
  list of topics in English, French, German and Spanish with small variations (a few hold an
  e-mail address, for the redactor); answers vary in length and use some Markdown; 2% of the
  first answers name their own model, which unblinds the vote. Votes are spread over the last
  90 days, in the order of the ids.
- The review queue as the services leave it: every answer's rate, flag and correct items (as
  `battle_complete` queues them) and, for a fixed share of the answers (6% rated, 3% flagged,
  0.4% corrected, 1% split into claims; a few of each however small the pool), answered
  assignments with their ratings, flags, corrections (each with its own items, and the ranking
  item of a prompt that reaches three answers), rankings, and claims split into sentences (as
  `answer_claims_split` does without a model) with their claim checks; `response_count` counts
  the answered assignments.
- One donated conversation (ChatGPT or ShareGPT) per 200 battles, with its review items.

Every row is what the services would have written (`battle_start` ... `battle_vote_cast`,
`task_items_create_for_answer`, the task responses, `donation_donate`): the language is
`language_detect` of the prompt, items are never served to their conversation's owner, and
so on. feedback/tests/test_demo_data.py replays a small pool through the services and compares.

It is fast because it never calls a service nor runs a query per row: each batch of battles is
generated in memory and written table by table, one statement per table, in one transaction:
PostgreSQL's COPY, or one `executemany` INSERT on SQLite (for messages on PostgreSQL,
`bulk_create` took 54 µs a row, COPY 21 µs). On PostgreSQL a second thread writes one batch
while the next is generated. Ids are taken beforehand: from the table's own sequence on
PostgreSQL (in chunks, so a concurrent writer is never in the way) and after the largest id
under SQLite's write lock. Progress goes to stderr. At the end it runs ANALYZE on the tables it
wrote, so the query planner knows their new sizes (1M battles: 5.5 to 6 minutes on PostgreSQL
or SQLite on two cores; docs/benchmarks.md).

Deterministic: the same seed on the same database writes the same data. The random stream is
seeded with the seed, the community and the number of battles already in it, so a second run
adds new battles instead of copies.
"""

import queue
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import count
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from community.models import Community, Membership, User
from community.services import community_create, membership_accept_licence
from feedback.donations.services import EXTERNAL_MODEL_BY_SOURCE
from feedback.language import language_detect
from feedback.models import (
    Battle,
    Claim,
    ClaimLabel,
    ClaimVerdict,
    Conversation,
    Donation,
    FlagLabel,
    FlagResponse,
    Message,
    Ranking,
    Rating,
    RatingScale,
    TaskAssignment,
    TaskItem,
    TaskKind,
)
from feedback.moderation.gates import review_gates_recompute
from feedback.privacy.pii import text_key, text_redacted
from feedback.taskqueue.claims import claims_from_sentences
from inference.models import ModelEndpoint

# --- The models, the people and the shares -------------------------------------------------

# (name, latent strength on the Elo scale). The first word of each name is the model's family:
# none of them may appear in the answers' built-in text (an answer that names its own model
# unblinds its battle), which a test checks.
MODELS: tuple[tuple[str, int], ...] = (
    ("atlas-70b-chat", 1250),
    ("nimbus-34b-instruct", 1215),
    ("tessera-40b-instruct", 1195),
    ("vireo-32b-instruct", 1185),
    ("kestrel-22b", 1175),
    ("atlas-13b-chat", 1150),
    ("borealis-14b-chat", 1135),
    ("lumen-12b-chat", 1125),
    ("nimbus-8b-instruct", 1100),
    ("atlas-7b-chat", 1080),
    ("tessera-9b-instruct", 1060),
    ("vireo-4b-instruct", 995),
    ("kestrel-3b", 965),
    ("halcyon-2b-chat", 935),
    ("quill-1.5b-chat", 900),
)
TIE_SHARE = 0.10
BOTH_BAD_SHARE = 0.03
TWO_TURN_SHARE = 0.15
REVEAL_SHARE = 0.02
PII_SHARE = 0.005
WINDOW = timedelta(days=90)

VOLUNTEERS_MAX = 300
VOLUNTEERS_MIN = 12
BATTLES_PER_VOLUNTEER = 25
FIRST_NAMES = (
    "Amara", "Bruno", "Chen", "Dalia", "Emeka", "Farah", "Giulia", "Hamid", "Ines", "Jonas", "Kaito", "Lena",
    "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sami", "Tove", "Uma", "Viktor", "Wen", "Yara", "Zoe",
)  # fmt: skip

# Share of the arena's answers that get each review (exact counts, at least the minimum).
REVIEW_SHARES: dict[str, tuple[float, int]] = {
    "rate": (0.06, 4),
    "flag": (0.03, 3),
    "correct": (0.004, 3),
    "check_claims": (0.01, 2),
}
RANKED_SHARE = 0.7
BATTLES_PER_DONATION = 200
DONATED_ANSWER_RATED_SHARE = 0.1

FLAG_WEIGHTS = {
    FlagLabel.FAILS_TASK.value: 40,
    FlagLabel.WRONG_LANGUAGE.value: 15,
    FlagLabel.MODEL_IDENTITY.value: 12,
    FlagLabel.PERSONAL_INFORMATION.value: 10,
    FlagLabel.TOXIC.value: 8,
    FlagLabel.SPAM.value: 8,
    FlagLabel.SEXUAL.value: 4,
}
VERDICT_WEIGHTS = {
    ClaimVerdict.TRUE.value: 55,
    ClaimVerdict.FALSE.value: 15,
    ClaimVerdict.SUBJECTIVE.value: 15,
    ClaimVerdict.UNVERIFIABLE.value: 15,
}

# The choices' plain values: database drivers get str, never the enums.
RATE, FLAG, CORRECT, RANK, CHECK_CLAIMS = (
    TaskKind.RATE.value,
    TaskKind.FLAG.value,
    TaskKind.CORRECT.value,
    TaskKind.RANK.value,
    TaskKind.CHECK_CLAIMS.value,
)
MODEL_A, MODEL_B, TIE, BOTH_BAD = (
    Battle.Winner.MODEL_A.value,
    Battle.Winner.MODEL_B.value,
    Battle.Winner.TIE.value,
    Battle.Winner.BOTH_BAD.value,
)
VOTED, ANSWERED, DONATED = (
    Battle.Status.VOTED.value,
    TaskAssignment.Status.ANSWERED.value,
    Donation.Status.DONATED.value,
)
USER, ASSISTANT = Message.Role.USER.value, Message.Role.ASSISTANT.value
CHATGPT, SHAREGPT = Donation.Source.CHATGPT.value, Donation.Source.SHAREGPT.value

# --- Built-in text -------------------------------------------------------------------------

LANGUAGES = ("en", "fr", "de", "es")
LANGUAGE_CUMULATIVE_WEIGHTS = (55, 72, 87, 100)

# Per language: (topic, template, values for its "{}").
PROMPTS: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    "en": (
        ("General knowledge", "What is the capital of {}?", ("Australia", "Canada", "Brazil", "Kenya", "Norway")),
        ("Science", "Explain {} in simple terms.", ("photosynthesis", "black holes", "plate tectonics", "vaccines")),
        ("Science", "Why is the sky {}?", ("blue during the day", "red at sunset", "dark at night")),
        ("Health", "How many hours of sleep does {} need?", ("a teenager", "an adult", "a toddler")),
        ("Health", "Is it safe to exercise when I have {}?", ("a cold", "a mild fever", "back pain")),
        ("Cooking", "Give me a simple recipe for {}.", ("pancakes", "lentil soup", "guacamole", "banana bread")),
        ("Cooking", "How do I keep {} fresh for longer?", ("bread", "fresh herbs", "avocados")),
        ("Writing", "Write a short poem about {}.", ("the sea", "autumn", "a lost key", "the city at night")),
        ("Writing", "Help me write a polite email asking {} for a deadline extension.", ("my professor", "my manager")),
        ("Programming", "How do I {} in Python?", ("reverse a list", "read a CSV file", "sort a dictionary by value")),
        (
            "Programming",
            "What is the difference between {}?",
            ("a list and a tuple", "TCP and UDP", "a process and a thread"),
        ),
        ("Travel", "What should I see in {} in three days?", ("Lisbon", "Kyoto", "Mexico City", "Edinburgh")),
        ("History", "Why did {}?", ("the Roman Empire fall", "the First World War start", "the Berlin Wall come down")),
    ),
    "fr": (
        (
            "General knowledge",
            "Quelle est la capitale {} ?",
            ("de l'Australie", "du Canada", "du Brésil", "de la Norvège"),
        ),
        ("Science", "Explique {} avec des mots simples.", ("la photosynthèse", "les trous noirs", "les vaccins")),
        ("Health", "Combien d'heures de sommeil faut-il à {} ?", ("un adolescent", "un adulte", "un jeune enfant")),
        ("Cooking", "Donne-moi une recette simple de {}.", ("crêpes", "soupe de lentilles", "ratatouille", "quiche")),
        ("Writing", "Écris un court poème sur {}.", ("la mer", "l'automne", "une clé perdue", "la ville la nuit")),
        (
            "Programming",
            "Comment {} en Python ?",
            ("inverser une liste", "lire un fichier CSV", "trier un dictionnaire"),
        ),
        ("Travel", "Que faut-il visiter à {} en trois jours ?", ("Lisbonne", "Kyoto", "Montréal", "Marrakech")),
        ("History", "Pourquoi {} ?", ("l'Empire romain s'est-il effondré", "le mur de Berlin est-il tombé")),
    ),
    "de": (
        ("General knowledge", "Was ist die Hauptstadt von {}?", ("Australien", "Kanada", "Brasilien", "Norwegen")),
        ("Science", "Erkläre {} in einfachen Worten.", ("die Photosynthese", "schwarze Löcher", "die Plattentektonik")),
        ("Health", "Wie viele Stunden Schlaf braucht {}?", ("ein Teenager", "ein Erwachsener", "ein Kleinkind")),
        ("Cooking", "Gib mir ein einfaches Rezept für {}.", ("Pfannkuchen", "Linsensuppe", "Kartoffelsalat")),
        ("Writing", "Schreib ein kurzes Gedicht über {}.", ("das Meer", "den Herbst", "die Stadt bei Nacht")),
        ("Programming", "Wie kann ich in Python {}?", ("eine Liste umkehren", "eine CSV-Datei lesen")),
        ("Travel", "Was sollte ich in {} in drei Tagen ansehen?", ("Lissabon", "Kyoto", "Wien", "Prag")),
        ("History", "Warum {}?", ("ist das Römische Reich untergegangen", "fiel die Berliner Mauer")),
    ),
    "es": (
        ("General knowledge", "¿Cuál es la capital de {}?", ("Australia", "Canadá", "Brasil", "Noruega")),
        ("Science", "Explica {} con palabras sencillas.", ("la fotosíntesis", "los agujeros negros", "las vacunas")),
        ("Health", "¿Cuántas horas de sueño necesita {}?", ("un adolescente", "un adulto", "un niño pequeño")),
        ("Cooking", "Dame una receta sencilla de {}.", ("tortilla de patatas", "gazpacho", "paella", "guacamole")),
        ("Writing", "Escribe un poema corto sobre {}.", ("el mar", "el otoño", "una llave perdida")),
        ("Programming", "¿Cómo puedo {} en Python?", ("invertir una lista", "leer un archivo CSV")),
        ("Travel", "¿Qué debería ver en {} en tres días?", ("Lisboa", "Kioto", "Buenos Aires", "Sevilla")),
        ("History", "¿Por qué {}?", ("cayó el Imperio romano", "cayó el muro de Berlín")),
    ),
}
PROMPT_PREFIXES = {
    "en": ("Hi! ", "Quick question: ", "Please help: "),
    "fr": ("Bonjour ! ", "Petite question : ", "Aide-moi s'il te plaît : "),
    "de": ("Hallo! ", "Kurze Frage: ", "Bitte hilf mir: "),
    "es": ("¡Hola! ", "Una pregunta rápida: ", "Ayúdame, por favor: "),
}
PROMPT_SUFFIXES = {
    "en": (" Keep it short.", " Please explain step by step.", " Answer with a list."),
    "fr": (" Réponds brièvement.", " Explique étape par étape.", " Réponds sous forme de liste."),
    "de": (" Bitte kurz.", " Erkläre es Schritt für Schritt.", " Antworte mit einer Liste."),
    "es": (" Responde brevemente.", " Explícalo paso a paso.", " Responde con una lista."),
}
PII_SUFFIXES = {
    "en": " You can write to me at sam.taylor@example.com.",
    "fr": " Tu peux m'écrire à camille.roux@example.fr.",
    "de": " Schreib mir an jonas.weber@example.de.",
    "es": " Puedes escribirme a lucia.gomez@example.es.",
}
FOLLOW_UPS = {
    "en": ("Can you give an example?", "Thanks! Can you make it shorter?", "Why?", "What are the common mistakes?"),
    "fr": ("Peux-tu donner un exemple ?", "Merci ! Tu peux faire plus court ?", "Pourquoi ?"),
    "de": ("Kannst du ein Beispiel geben?", "Danke! Kannst du es kürzer machen?", "Warum?"),
    "es": ("¿Puedes dar un ejemplo?", "¡Gracias! ¿Puedes hacerlo más corto?", "¿Por qué?"),
}

ANSWERS: dict[str, dict[str, Any]] = {
    "en": {
        "openers": ("Good question!", "Sure.", "Here is a short overview.", "Happy to help."),
        "topics": {
            "General knowledge": (
                "The short answer is well documented and easy to verify in an encyclopedia.",
                "Many people get this wrong, so it is worth looking at the details.",
            ),
            "Science": (
                "Scientists explain this with a simple physical principle.",
                "The key idea is that energy changes from one form to another.",
            ),
            "Health": (
                "Individual needs vary, so a doctor can give advice that fits your situation.",
                "Most guidelines agree on a general range rather than an exact number.",
            ),
            "Cooking": (
                "The secret is to use fresh ingredients and to taste as you go.",
                "You only need a few basic ingredients and about thirty minutes.",
            ),
            "Writing": (
                "Here is a draft you can adapt to your own voice.",
                "A clear structure makes the text easier to read.",
            ),
            "Programming": (
                "Python has a built-in way to do this in a single line.",
                "The standard library already covers this case.",
            ),
            "Travel": (
                "Three days is enough to see the highlights if you plan each day around one area.",
                "Public transport is usually the fastest way to get around the centre.",
            ),
            "History": (
                "Historians point to several causes rather than a single event.",
                "Economic pressure and political conflict both played a part.",
            ),
        },
        "sentences": (
            "First, consider what you want to achieve.",
            "It helps to start with the basics and build from there.",
            "In practice, small changes make a big difference.",
            "There are a few exceptions, but this rule works in most cases.",
            "If you are unsure, check a reliable source before deciding.",
            "This approach is simple, cheap and easy to repeat.",
            "Keep in mind that the details can change over time.",
            "A good rule of thumb is to take it one step at a time.",
            "Many experts recommend the same thing.",
            "The result is usually better than people expect.",
        ),
        "items": ("Start early", "Keep it simple", "Check the result", "Ask for feedback", "Take notes"),
        "headings": ("Summary", "In short", "Details"),
        "closers": ("I hope this helps!", "Let me know if you want more details.", "Feel free to ask a follow-up."),
        "reveal": "As {}, I can answer that.",
    },
    "fr": {
        "openers": ("Bonne question !", "Bien sûr.", "Voici un bref aperçu.", "Avec plaisir."),
        "topics": {
            "General knowledge": (
                "La réponse courte est bien documentée et facile à vérifier dans une encyclopédie.",
                "Beaucoup de gens se trompent, alors regardons les détails.",
            ),
            "Science": (
                "Les scientifiques l'expliquent par un principe physique simple.",
                "L'idée clé est que l'énergie passe d'une forme à une autre.",
            ),
            "Health": (
                "Les besoins varient d'une personne à l'autre : un médecin peut vous conseiller.",
                "La plupart des recommandations donnent une fourchette plutôt qu'un chiffre exact.",
            ),
            "Cooking": (
                "Le secret, c'est d'utiliser des produits frais et de goûter en cours de route.",
                "Il suffit de quelques ingrédients de base et d'environ trente minutes.",
            ),
            "Writing": (
                "Voici un brouillon que vous pouvez adapter à votre style.",
                "Une structure claire rend le texte plus facile à lire.",
            ),
            "Programming": (
                "Python permet de le faire en une seule ligne.",
                "La bibliothèque standard couvre déjà ce cas.",
            ),
            "Travel": (
                "Trois jours suffisent pour l'essentiel si chaque journée est consacrée à un quartier.",
                "Les transports en commun sont souvent le moyen le plus rapide de circuler.",
            ),
            "History": (
                "Les historiens évoquent plusieurs causes plutôt qu'un seul événement.",
                "Les difficultés économiques et les conflits politiques ont joué un rôle.",
            ),
        },
        "sentences": (
            "D'abord, demandez-vous ce que vous voulez obtenir.",
            "Il vaut mieux commencer par les bases.",
            "En pratique, de petits changements font une grande différence.",
            "Il existe quelques exceptions, mais la règle vaut dans la plupart des cas.",
            "En cas de doute, vérifiez auprès d'une source fiable.",
            "Cette méthode est simple, peu coûteuse et facile à répéter.",
            "Gardez à l'esprit que les détails peuvent évoluer.",
            "Beaucoup d'experts recommandent la même chose.",
        ),
        "items": ("Commencer tôt", "Rester simple", "Vérifier le résultat", "Demander un avis"),
        "headings": ("Résumé", "En bref", "Détails"),
        "closers": ("J'espère que cela vous aide !", "Dites-moi si vous voulez plus de détails."),
        "reveal": "En tant que {}, je peux répondre à cela.",
    },
    "de": {
        "openers": ("Gute Frage!", "Gern.", "Hier ein kurzer Überblick."),
        "topics": {
            "General knowledge": (
                "Die kurze Antwort ist gut belegt und leicht in einem Lexikon nachzuprüfen.",
                "Viele Menschen irren sich hier, deshalb lohnt sich ein genauer Blick.",
            ),
            "Science": (
                "Fachleute erklären das mit einem einfachen physikalischen Prinzip.",
                "Der Kern ist, dass Energie von einer Form in eine andere übergeht.",
            ),
            "Health": (
                "Der Bedarf ist individuell, daher kann eine Ärztin oder ein Arzt am besten beraten.",
                "Die meisten Empfehlungen nennen eine Spanne statt einer genauen Zahl.",
            ),
            "Cooking": (
                "Das Geheimnis sind frische Zutaten und regelmäßiges Abschmecken.",
                "Man braucht nur wenige Grundzutaten und etwa dreißig Minuten.",
            ),
            "Writing": (
                "Hier ist ein Entwurf, den du an deinen Stil anpassen kannst.",
                "Eine klare Gliederung macht den Text leichter lesbar.",
            ),
            "Programming": (
                "Python kann das in einer einzigen Zeile.",
                "Die Standardbibliothek deckt diesen Fall bereits ab.",
            ),
            "Travel": (
                "Drei Tage reichen für das Wichtigste, wenn man jeden Tag einem Viertel widmet.",
                "Mit öffentlichen Verkehrsmitteln kommt man meist am schnellsten voran.",
            ),
            "History": (
                "Historiker nennen mehrere Ursachen statt eines einzelnen Ereignisses.",
                "Wirtschaftlicher Druck und politische Konflikte spielten beide eine Rolle.",
            ),
        },
        "sentences": (
            "Überlege zuerst, was du erreichen möchtest.",
            "Es hilft, mit den Grundlagen anzufangen.",
            "In der Praxis machen kleine Änderungen einen großen Unterschied.",
            "Es gibt Ausnahmen, aber die Regel gilt in den meisten Fällen.",
            "Im Zweifel lohnt sich ein Blick in eine verlässliche Quelle.",
            "Dieser Ansatz ist einfach, günstig und leicht zu wiederholen.",
            "Viele Fachleute empfehlen dasselbe.",
        ),
        "items": ("Früh anfangen", "Einfach bleiben", "Ergebnis prüfen", "Rückmeldung einholen"),
        "headings": ("Zusammenfassung", "Kurz gesagt", "Details"),
        "closers": ("Ich hoffe, das hilft!", "Sag Bescheid, wenn du mehr wissen möchtest."),
        "reveal": "Als {} kann ich das beantworten.",
    },
    "es": {
        "openers": ("¡Buena pregunta!", "Claro.", "Aquí tienes un breve resumen."),
        "topics": {
            "General knowledge": (
                "La respuesta corta está bien documentada y es fácil de comprobar en una enciclopedia.",
                "Mucha gente se equivoca, así que vale la pena mirar los detalles.",
            ),
            "Science": (
                "Los científicos lo explican con un principio físico sencillo.",
                "La idea clave es que la energía pasa de una forma a otra.",
            ),
            "Health": (
                "Las necesidades varían, así que un médico puede darte un consejo adecuado.",
                "La mayoría de las guías indican un rango en lugar de una cifra exacta.",
            ),
            "Cooking": (
                "El secreto es usar ingredientes frescos y probar mientras cocinas.",
                "Solo necesitas unos pocos ingredientes básicos y unos treinta minutos.",
            ),
            "Writing": (
                "Aquí tienes un borrador que puedes adaptar a tu estilo.",
                "Una estructura clara hace que el texto sea más fácil de leer.",
            ),
            "Programming": (
                "Python permite hacerlo en una sola línea.",
                "La biblioteca estándar ya cubre este caso.",
            ),
            "Travel": (
                "Tres días bastan para lo esencial si dedicas cada día a una zona.",
                "El transporte público suele ser la forma más rápida de moverse por el centro.",
            ),
            "History": (
                "Los historiadores señalan varias causas y no un único acontecimiento.",
                "La presión económica y los conflictos políticos influyeron por igual.",
            ),
        },
        "sentences": (
            "Primero, piensa en lo que quieres conseguir.",
            "Conviene empezar por lo básico.",
            "En la práctica, los pequeños cambios marcan una gran diferencia.",
            "Hay algunas excepciones, pero la regla funciona en la mayoría de los casos.",
            "Si tienes dudas, consulta una fuente fiable.",
            "Este método es sencillo, barato y fácil de repetir.",
            "Muchos expertos recomiendan lo mismo.",
        ),
        "items": ("Empezar pronto", "Mantenerlo simple", "Revisar el resultado", "Pedir opinión"),
        "headings": ("Resumen", "En pocas palabras", "Detalles"),
        "closers": ("¡Espero que te sirva!", "Dime si quieres más detalles."),
        "reveal": "Como {}, puedo responder a eso.",
    },
}
CODE_BLOCK = "```python\nitems = [3, 1, 2]\nprint(sorted(items, reverse=True))\n```"

# --- Writing rows ----------------------------------------------------------------------------

# The columns each table is written with, in the order of the generated tuples. A column left
# out gets its field's default (gold items, for one); a new field without a default stops the
# command with a message, instead of writing rows the model no longer describes.
COLUMNS: dict[type[models.Model], tuple[str, ...]] = {
    Conversation: ("id", "community_id", "owner_id", "names_revealed_at", "topic", "created_at"),
    Message: (
        "id", "conversation_id", "parent_id", "role", "text", "author_id", "endpoint_id", "external_model",
        "corrects_id", "created_at", "updated_at", "text_redacted", "redacted_from",
    ),
    Battle: (
        "id", "community_id", "conversation_id", "turn", "judge_id", "model_a_id", "model_b_id", "answer_a_id",
        "answer_b_id", "status", "error", "winner", "is_blind", "language", "vote_idempotency_key", "created_at",
        "completed_at", "voted_at",
    ),
    Donation: (
        "id", "owner_id", "community_id", "source", "title", "turns", "status", "conversation_id", "created_at",
        "donated_at",
    ),
    TaskItem: (
        "id", "community_id", "kind", "answer_id", "prompt_id", "language", "topic", "required_responses",
        "response_count", "created_at",
    ),
    Claim: ("id", "answer_id", "position", "text", "author_id", "revises_id", "created_at"),
    TaskAssignment: ("id", "item_id", "volunteer_id", "status", "reserved_until", "created_at", "answered_at"),
    Rating: ("id", "assignment_id", "answer_id", "volunteer_id", "scale_id", "value", "created_at", "updated_at"),
    FlagResponse: ("id", "assignment_id", "answer_id", "volunteer_id", "labels", "note", "created_at", "updated_at"),
    Ranking: ("id", "assignment_id", "prompt_id", "volunteer_id", "order", "created_at", "updated_at"),
    ClaimLabel: ("id", "assignment_id", "claim_id", "volunteer_id", "verdict", "created_at", "updated_at"),
}  # fmt: skip

Row = tuple
Tables = dict[type[models.Model], list[Row]]


class _Table:
    """How one model's rows are written: its columns, the defaults of the columns left out and
    the conversions this database needs (JSON always; dates and UUIDs on SQLite)."""

    def __init__(self, model: type[models.Model], columns: tuple[str, ...]) -> None:
        fields = {field.attname: field for field in model._meta.concrete_fields}
        unknown = sorted(set(columns) - set(fields))
        if unknown:
            raise CommandError(f"demo_data writes {model._meta.label} columns it no longer has: {unknown}.")
        self.model = model
        self.columns = [fields[name].column for name in columns]
        defaults = []
        for name, field in fields.items():
            if name in columns:
                continue
            if not field.has_default() and not field.null:
                raise CommandError(f"{model._meta.label}.{name} has no default: teach demo_data what to write in it.")
            self.columns.append(field.column)
            defaults.append(field.get_db_prep_save(field.get_default(), connection))
        self.defaults = tuple(defaults)
        converted = (models.JSONField,) if connection.vendor == "postgresql" else (
            models.JSONField, models.DateTimeField, models.UUIDField
        )  # fmt: skip
        self.conversions = [
            (index, fields[name]) for index, name in enumerate(columns) if isinstance(fields[name], converted)
        ]

    def prepared(self, rows: list[Row]) -> Iterator[Row]:
        defaults, conversions = self.defaults, self.conversions
        if not conversions:
            yield from (row + defaults for row in rows) if defaults else rows
            return
        for row in rows:
            values = list(row)
            for index, field in conversions:
                if values[index] is not None:
                    values[index] = field.get_db_prep_save(values[index], connection)
            yield (*values, *defaults)


class RowWriter:
    """Writes each table's rows of a batch in one statement: COPY on PostgreSQL, one
    executemany INSERT elsewhere. Call inside the batch's transaction."""

    def __init__(self) -> None:
        self.tables = {model: _Table(model, columns) for model, columns in COLUMNS.items()}
        self.written: dict[type[models.Model], int] = dict.fromkeys(COLUMNS, 0)
        self._redactions: dict[str, tuple[str, int]] = {}

    def _redaction(self, text: str) -> tuple[str, int]:
        """(text_redacted, redacted_from) as `Message.save` computes them; generated texts
        repeat, so they are remembered (up to a bound)."""
        known = self._redactions.get(text)
        if known is None:
            if len(self._redactions) >= 200_000:
                self._redactions.clear()
            known = self._redactions[text] = (text_redacted(text), text_key(text))
        return known

    def write(self, tables: Tables) -> None:
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            for model, rows in tables.items():
                if not rows:
                    continue
                if model is Message:  # the two columns `Message.save` fills, after the rest
                    rows = [(*row, *self._redaction(row[4])) for row in rows]
                table = self.tables[model]
                names = ", ".join(quote(column) for column in table.columns)
                target = quote(model._meta.db_table)
                if connection.vendor == "postgresql":
                    with cursor.cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
                        for row in table.prepared(rows):
                            copy.write_row(row)
                else:
                    marks = ", ".join(["%s"] * len(table.columns))
                    cursor.executemany(f"INSERT INTO {target} ({names}) VALUES ({marks})", list(table.prepared(rows)))  # noqa: S608
                self.written[model] += len(rows)


class BatchWriter:
    """Writes each batch of rows in a transaction of its own.

    On PostgreSQL, unless called inside a transaction, it writes from a second thread on its
    own connection: the database stores one batch (and checks its foreign keys, at commit)
    while the next is generated, which keeps both cores busy. SQLite has one writer at a time
    and ids counted under its lock, so there the batch is generated inside its transaction.
    """

    def __init__(self, rows: RowWriter) -> None:
        self.rows = rows
        self.battles_written = 0
        self.in_background = connection.vendor == "postgresql" and not connection.in_atomic_block
        self._error: BaseException | None = None
        if self.in_background:
            self._queue: queue.Queue[Tables | None] = queue.Queue(maxsize=1)
            self._thread = threading.Thread(target=self._run, name="demo_data writer", daemon=True)
            self._thread.start()

    def add(self, make: Callable[[], Tables]) -> None:
        """Write the rows `make` returns (ids are taken while it runs)."""
        if not self.in_background:
            with transaction.atomic():
                tables = make()
                self.rows.write(tables)
            self.battles_written += len(tables[Battle])
            return
        tables = make()
        while True:
            if self._error is not None:
                raise CommandError(f"Writing a batch failed: {self._error}") from self._error
            try:
                self._queue.put(tables, timeout=1)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Wait for the last batch; raise what went wrong in the writer, if anything did."""
        if self.in_background:
            while self._thread.is_alive():
                try:
                    self._queue.put(None, timeout=1)
                    break
                except queue.Full:
                    continue
            self._thread.join()
        if self._error is not None:
            raise CommandError(f"Writing a batch failed: {self._error}") from self._error

    def _run(self) -> None:
        try:
            while (tables := self._queue.get()) is not None:
                with transaction.atomic():
                    self.rows.write(tables)
                self.battles_written += len(tables[Battle])
        except BaseException as error:  # handed to the main thread, which stops
            self._error = error
        finally:
            connection.close()


class IdSource:
    """Ids for new rows, taken before they are written.

    PostgreSQL: drawn from the table's own sequence, `chunk` at a time, so a concurrent writer
    never collides (a run leaves at most one chunk of unused ids per table). SQLite: counted on
    from the largest id ever used, read again at the start of each batch's transaction, under
    the write lock (Django opens SQLite transactions IMMEDIATE); the AUTOINCREMENT counter then
    follows the inserted ids.
    """

    def __init__(self, chunk: int) -> None:
        self.chunk = max(chunk, 100)
        self.is_postgresql = connection.vendor == "postgresql"
        self._pools: dict[type[models.Model], deque[int]] = {}
        self._sequences: dict[type[models.Model], str] = {}

    def counters(self) -> dict[type[models.Model], Callable[[], int]]:
        """A function per table that returns the next id; call at the start of every batch."""
        if self.is_postgresql:
            return {model: self._sequence_counter(model) for model in COLUMNS}
        with connection.cursor() as cursor:
            counters = {}
            for model in COLUMNS:
                table = model._meta.db_table
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
                found = cursor.fetchone()
                cursor.execute(f"SELECT MAX(id) FROM {connection.ops.quote_name(table)}")  # noqa: S608
                largest = max(found[0] if found else 0, cursor.fetchone()[0] or 0)
                counters[model] = count(largest + 1).__next__
            return counters

    def _sequence_counter(self, model: type[models.Model]) -> Callable[[], int]:
        pool = self._pools.setdefault(model, deque())
        if model not in self._sequences:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [model._meta.db_table])
                self._sequences[model] = cursor.fetchone()[0]
        sequence = self._sequences[model]

        def next_id() -> int:
            if not pool:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [sequence, self.chunk])
                    pool.extend(row[0] for row in cursor.fetchall())
            return pool.popleft()

        return next_id


# --- Generating the pool ---------------------------------------------------------------------


@lru_cache(maxsize=65536)
def _language(text: str, default: str) -> str:
    """`language_detect`, once per text: prompts come from a few thousand variations."""
    return language_detect(text, default=default)


def _family(model_name: str) -> str:
    return model_name.split("-", 1)[0].capitalize()


def _selection_counts(answers: int) -> dict[str, int]:
    return {
        kind: min(answers, max(minimum, round(share * answers))) for kind, (share, minimum) in REVIEW_SHARES.items()
    }


class PoolGenerator:
    """Generates the rows of the pool batch by batch; pure but for the ids it takes."""

    def __init__(
        self,
        *,
        rng: random.Random,
        community: Community,
        endpoints: list[ModelEndpoint],
        volunteers: list[User],
        scales: list[RatingScale],
        battles: int,
        now: datetime,
        ids: IdSource,
    ) -> None:
        self.rng = rng
        self.community = community
        self.endpoints = [(e.pk, e.model_id, dict(MODELS)[e.model_id]) for e in endpoints]
        self.volunteers = [(v.pk, v.languages) for v in volunteers]
        self.scale_ids = [(scale.pk, scale.name) for scale in scales]
        self.total = battles
        self.now = now
        self.start = now - WINDOW
        self.latest_start = now - timedelta(hours=2)
        self.ids = ids
        self.required = community.responses_per_item
        self.reservation = timedelta(minutes=settings.TASK_RESERVATION_MINUTES)
        # Exact counts of arena answers to review, drawn by selection sampling (Knuth's
        # algorithm S) over the 2N answers in order, so small pools get every kind too.
        self.to_select = _selection_counts(2 * battles)
        self.answers_left = 2 * battles
        self.donations_total = -(-battles // BATTLES_PER_DONATION)
        self.made = 0
        self.donated = 0
        self.by_language = {
            language: [v for v in self.volunteers if not v[1] or language in v[1]] for language in LANGUAGES
        }
        self.anyone = [v for v in self.volunteers if not v[1]]

    # Helpers -------------------------------------------------------------------------------

    def _eligible(self, language: str) -> list[tuple[int, list[str]]]:
        return self.by_language.get(language, self.anyone)

    def _reviewers(self, language: str, count_: int, excluded: set[int]) -> list[int]:
        eligible = self._eligible(language)
        chosen: list[int] = []
        for volunteer_id, _ in self.rng.sample(eligible, min(len(eligible), count_ + len(excluded))):
            if volunteer_id not in excluded:
                chosen.append(volunteer_id)
                if len(chosen) == count_:
                    break
        return chosen

    def _prompt(self, language: str) -> tuple[str, str]:
        rng = self.rng
        topic, template, values = rng.choice(PROMPTS[language])
        text = template.format(rng.choice(values))
        if rng.random() < 0.25:
            text = rng.choice(PROMPT_PREFIXES[language]) + text[0].lower() + text[1:]
        if rng.random() < 0.3:
            text += rng.choice(PROMPT_SUFFIXES[language])
        if rng.random() < PII_SHARE:
            text += PII_SUFFIXES[language]
        return topic, text

    def _paragraph(self, words: dict[str, Any], topic: str, sentences: int) -> str:
        """The topic's opening sentence and `sentences - 1` others in a row (a sample without
        replacement, drawn faster than random.sample)."""
        rng = self.rng
        pool = words["sentences"]
        first = int(rng.random() * len(pool))
        parts = [rng.choice(words["topics"][topic])]
        parts += [pool[(first + offset) % len(pool)] for offset in range(sentences - 1)]
        if rng.random() < 0.2:
            parts[-1] = f"**{parts[-1]}**"
        return " ".join(parts)

    def _answer(self, language: str, topic: str, *, reveal: str = "", is_human: bool = False) -> str:
        rng = self.rng
        words = ANSWERS[language]
        parts = []
        if reveal:
            parts.append(words["reveal"].format(reveal))
        elif not is_human and rng.random() < 0.4:
            parts.append(rng.choice(words["openers"]))
        size = rng.random()
        if is_human or size < 0.3:
            parts.append(self._paragraph(words, topic, rng.randint(1, 3)))
        elif size < 0.8:
            parts += [self._paragraph(words, topic, rng.randint(2, 4)) for _ in range(rng.randint(2, 3))]
            if rng.random() < 0.3:
                parts.append("\n".join(f"- {item}" for item in rng.sample(words["items"], 3)))
        else:
            parts.append(f"## {rng.choice(words['headings'])}")
            parts += [self._paragraph(words, topic, rng.randint(2, 5)) for _ in range(rng.randint(3, 5))]
            items = rng.sample(words["items"], 4)
            parts.append("\n".join(f"{number}. {item}" for number, item in enumerate(items, start=1)))
            if topic == "Programming":
                parts.append(CODE_BLOCK)
        if not is_human and rng.random() < 0.3:
            parts.append(rng.choice(words["closers"]))
        return "\n\n".join(parts)

    def _after(self, moment: datetime, seconds_low: float, seconds_high: float) -> datetime:
        return moment + timedelta(seconds=self.rng.uniform(seconds_low, seconds_high))

    def _review_time(self, since: datetime) -> tuple[datetime, datetime]:
        """(served, answered) of a review of an item queued at `since`: most come within days."""
        rng = self.rng
        room = (self.now - since).total_seconds() - 60
        answered = since + timedelta(seconds=60 + min(rng.expovariate(1 / 172800), room * rng.random()))
        served = max(since, answered - timedelta(seconds=rng.uniform(20, 480)))
        return served, answered

    def _winner(self, strength_a: int, strength_b: int) -> str:
        rng = self.rng
        draw = rng.random()
        if draw < TIE_SHARE:
            return TIE
        if draw < TIE_SHARE + BOTH_BAD_SHARE:
            return BOTH_BAD
        a_wins = 1 / (1 + 10 ** ((strength_b - strength_a) / 400))
        return MODEL_A if rng.random() < a_wins else MODEL_B

    def _is_selected(self, kind: str) -> bool:
        wanted = self.to_select[kind]
        if wanted and self.rng.random() * self.answers_left < wanted:
            self.to_select[kind] = wanted - 1
            return True
        return False

    # One batch ------------------------------------------------------------------------------

    def batch(self, battles: int) -> Tables:
        """The rows of the next `battles` battles (and the donations that fall in them)."""
        self.next_id = self.ids.counters()
        self.tables: Tables = {model: [] for model in COLUMNS}
        target = self.made + battles
        while self.made < target:
            self._conversation(two_turns=target - self.made > 1 and self.rng.random() < TWO_TURN_SHARE)
        donations_due = self.donations_total * self.made // self.total
        while self.donated < donations_due:
            self._donation()
        return self.tables

    def _item_answered(
        self,
        kind: str,
        queued: datetime,
        thread: "_Thread",
        volunteers: list[int],
        *,
        answer: int | None = None,
        prompt: int | None = None,
        served_after: datetime | None = None,
    ) -> list[tuple[int, int, datetime]]:
        """A task item queued at `queued` with an answered assignment for each volunteer (served
        after `served_after`, by default when queued), counted in its `response_count`;
        (assignment id, volunteer id, answered at) for each of them."""
        item_id = self.next_id[TaskItem]()
        self.tables[TaskItem].append(
            (item_id, self.community.pk, kind, answer, prompt, thread.language, thread.topic, self.required,
             len(volunteers), queued)
        )  # fmt: skip
        done = []
        next_id, rows = self.next_id[TaskAssignment], self.tables[TaskAssignment]
        for volunteer_id in volunteers:
            served, answered = self._review_time(served_after or queued)
            assignment_id = next_id()
            rows.append((assignment_id, item_id, volunteer_id, ANSWERED, served + self.reservation, served, answered))
            done.append((assignment_id, volunteer_id, answered))
        return done

    def _conversation(self, *, two_turns: bool) -> None:
        """One arena conversation of one or two voted turns, as the arena's services write it."""
        rng, tables, next_id = self.rng, self.tables, self.next_id
        community_id = self.community.pk
        intended = rng.choices(LANGUAGES, cum_weights=LANGUAGE_CUMULATIVE_WEIGHTS)[0]
        judge_id = rng.choice(self._eligible(intended))[0]
        topic_name, prompt_text = self._prompt(intended)
        topic = topic_name if topic_name in self.community.topics and rng.random() < 0.75 else ""
        (model_a, model_id_a, strength_a), (model_b, model_id_b, strength_b) = rng.sample(self.endpoints, 2)
        started = self.start + (self.latest_start - self.start) * ((self.made + rng.random()) / self.total)
        conversation_id = next_id[Conversation]()
        thread = _Thread(conversation_id, judge_id, "", topic, intended, topic_name)
        messages = tables[Message]
        answers_of: dict[int, list[int]] = {}  # prompt: its answers, for the ranking items
        reviewed: list[tuple[int, int, str, datetime, int, str]] = []  # answer, prompt, text, queued, strength, outcome
        parents: tuple[int | None, int | None] = (None, None)
        revealed = voted = started
        for turn in range(1, 3 if two_turns else 2):
            if turn == 1:
                asked = started
                prompt_id = next_id[Message]()
                messages.append((prompt_id, conversation_id, None, USER, prompt_text, judge_id, None, "", None,
                                 asked, asked))  # fmt: skip
                prompts = (prompt_id, prompt_id)
            else:  # the follow-up, stored under each side's answer
                asked = self._after(voted, 10, 240)
                prompt_text = rng.choice(FOLLOW_UPS[intended])
                prompts = (next_id[Message](), next_id[Message]())
                for prompt_id, parent in zip(prompts, parents, strict=True):
                    messages.append((prompt_id, conversation_id, parent, USER, prompt_text, judge_id, None, "", None,
                                     asked, asked))  # fmt: skip
            language = _language(prompt_text, self.community.language)
            if turn == 1:
                thread = thread._replace(language=language)  # review items take the first turn's language
            reveals = [turn == 1 and rng.random() < REVEAL_SHARE for _ in range(2)]
            texts = [
                self._answer(intended, topic_name, reveal=_family(model_id) if reveal else "")
                for model_id, reveal in zip((model_id_a, model_id_b), reveals, strict=True)
            ]
            answer_a, answer_b = next_id[Message](), next_id[Message]()
            for answer_id, prompt_id, endpoint, text in (
                (answer_a, prompts[0], model_a, texts[0]),
                (answer_b, prompts[1], model_b, texts[1]),
            ):
                messages.append((answer_id, conversation_id, prompt_id, ASSISTANT, text, None, endpoint, "", None,
                                 asked, asked))  # fmt: skip
                answers_of.setdefault(prompt_id, []).append(answer_id)
            longest = max(map(len, texts))
            completed = self._after(asked, 2 + longest / 60, 8 + longest / 30)
            voted = self._after(completed, 5, 180)
            winner = self._winner(strength_a, strength_b)
            if turn == 1:
                revealed = voted  # the first vote shows the names: later votes are not blind
            tables[Battle].append(
                (next_id[Battle](), community_id, conversation_id, turn, judge_id, model_a, model_b, answer_a, answer_b,
                 VOTED, "", winner, turn == 1 and not any(reveals), language,
                 uuid.UUID(int=rng.getrandbits(128), version=4), asked, completed, voted)
            )  # fmt: skip
            for answer_id, prompt_id, text, strength, side in (
                (answer_a, prompts[0], texts[0], strength_a, MODEL_A),
                (answer_b, prompts[1], texts[1], strength_b, MODEL_B),
            ):
                outcome = "won" if winner == side else "bad" if winner == BOTH_BAD else "other"
                reviewed.append((answer_id, prompt_id, text, completed, strength, outcome))
            parents = (answer_a, answer_b)
            self.made += 1
        tables[Conversation].append((conversation_id, community_id, judge_id, revealed, topic, started))
        self._answers_reviewed(thread, reviewed, answers_of)

    def _answers_reviewed(
        self,
        thread: "_Thread",
        reviewed: list[tuple[int, int, str, datetime, int, str]],
        answers_of: dict[int, list[int]],
    ) -> None:
        """The items `battle_complete` queues for each answer, the reviews some of them get, and
        what the corrections bring: their own items and, for a prompt, a ranking."""
        rng, tables, owner = self.rng, self.tables, {thread.owner_id}
        corrections: list[tuple[datetime, int, int, int]] = []  # (written at, prompt, correction, author)
        for answer_id, prompt_id, text, queued, strength, outcome in reviewed:
            rate, flag, correct, check = (self._is_selected(kind) for kind in REVIEW_SHARES)
            self.answers_left -= 1

            raters = self._reviewers(thread.language, rng.choice((1, 1, 2, 2, 3)), owner) if rate else []
            for assignment_id, volunteer_id, answered in self._item_answered(
                RATE, queued, thread, raters, answer=answer_id
            ):
                self._ratings(assignment_id, answer_id, volunteer_id, answered, strength, outcome)

            flaggers = self._reviewers(thread.language, rng.choice((1, 1, 2, 3)), owner) if flag else []
            for assignment_id, volunteer_id, answered in self._item_answered(
                FLAG, queued, thread, flaggers, answer=answer_id
            ):
                labels = sorted(set(rng.choices(list(FLAG_WEIGHTS), list(FLAG_WEIGHTS.values()), k=rng.randint(1, 2))))
                tables[FlagResponse].append(
                    (self.next_id[FlagResponse](), assignment_id, answer_id, volunteer_id,
                     labels if rng.random() < 0.25 else [], "", answered, answered)
                )  # fmt: skip

            writers = self._reviewers(thread.language, 1, owner) if correct else []
            for _, volunteer_id, answered in self._item_answered(CORRECT, queued, thread, writers, answer=answer_id):
                better = self._answer(thread.intended, thread.topic_name, is_human=True)
                if better == text.strip():
                    better += " " + ANSWERS[thread.intended]["sentences"][0]
                correction_id = self.next_id[Message]()
                tables[Message].append((correction_id, thread.conversation_id, prompt_id, ASSISTANT, better,
                                        volunteer_id, None, "", answer_id, answered, answered))  # fmt: skip
                corrections.append((answered, prompt_id, correction_id, volunteer_id))

            if check:
                self._claims_checked(thread, answer_id, text, queued)

        ranked: dict[int, datetime] = {}  # prompt: when its ranking item was queued
        authors: dict[int, set[int]] = {}
        for written, prompt_id, correction_id, author_id in sorted(corrections):
            for kind in (RATE, FLAG):
                self._item_answered(kind, written, thread, [], answer=correction_id)
            answers_of[prompt_id].append(correction_id)
            authors.setdefault(prompt_id, set()).add(author_id)
            if len(answers_of[prompt_id]) >= 3 and prompt_id not in ranked:
                ranked[prompt_id] = written
        for prompt_id, queued in ranked.items():
            # Ranked once every correction is in, by people who wrote none of the answers.
            last = max(written for written, prompt, _, _ in corrections if prompt == prompt_id)
            rankers = (
                self._reviewers(thread.language, rng.choice((1, 2)), owner | authors[prompt_id])
                if rng.random() < RANKED_SHARE
                else []
            )
            for assignment_id, volunteer_id, answered in self._item_answered(
                RANK, queued, thread, rankers, prompt=prompt_id, served_after=last
            ):
                tables[Ranking].append(
                    (self.next_id[Ranking](), assignment_id, prompt_id, volunteer_id,
                     self._order(answers_of[prompt_id]), answered, answered)
                )  # fmt: skip

    def _order(self, answers: list[int]) -> list[list[int]]:
        """A ranking of the answers, best first; now and then two of them tie."""
        shuffled = self.rng.sample(answers, len(answers))
        if len(shuffled) >= 3 and self.rng.random() < 0.2:
            return [[shuffled[0]], sorted(shuffled[1:3]), *[[answer] for answer in shuffled[3:]]]
        return [[answer] for answer in shuffled]

    def _ratings(
        self, assignment_id: int, answer_id: int, volunteer_id: int, answered: datetime, strength: int, outcome: str
    ) -> None:
        rng = self.rng
        quality = 1 / (1 + 10 ** ((1100 - strength) / 400)) + {"won": 0.15, "bad": -0.35}.get(outcome, 0.0)
        helpfulness = min(5, max(1, round(1 + 4 * quality + rng.gauss(0, 0.9))))
        values = {
            "helpfulness": helpfulness,
            "correctness": min(5, max(1, round(helpfulness + rng.gauss(0, 0.7)))),
            "harmlessness": 5 if rng.random() < 0.85 else rng.choice((3, 4)),
        }
        next_id, rows = self.next_id[Rating], self.tables[Rating]
        for scale_id, name in self.scale_ids:
            value = values.get(name) or min(5, max(1, round(1 + 4 * quality + rng.gauss(0, 1))))
            rows.append((next_id(), assignment_id, answer_id, volunteer_id, scale_id, value, answered, answered))

    def _claims_checked(self, thread: "_Thread", answer_id: int, text: str, completed: datetime) -> None:
        """The answer split into sentences as `answer_claims_split` does when the community has
        no model to ask, the claim-check item it queues, and the volunteers' verdicts."""
        texts = claims_from_sentences(text)
        if not texts:
            return
        rng, tables = self.rng, self.tables
        split = self._after(completed, 5, 90)
        claim_ids = []
        for position, claim_text in enumerate(texts, start=1):
            claim_ids.append(self.next_id[Claim]())
            tables[Claim].append((claim_ids[-1], answer_id, position, claim_text, None, None, split))
        checkers = self._reviewers(thread.language, rng.choice((1, 2, 3)), {thread.owner_id})
        verdicts, weights = list(VERDICT_WEIGHTS), list(VERDICT_WEIGHTS.values())
        for assignment_id, volunteer_id, answered in self._item_answered(
            CHECK_CLAIMS, split, thread, checkers, answer=answer_id
        ):
            for claim_id, verdict in zip(claim_ids, rng.choices(verdicts, weights, k=len(claim_ids)), strict=True):
                tables[ClaimLabel].append(
                    (self.next_id[ClaimLabel](), assignment_id, claim_id, volunteer_id, verdict, answered, answered)
                )

    def _donation(self) -> None:
        """A conversation from another assistant, donated as `donation_donate` does: a linear
        conversation whose answers are queued for review (in the community's language)."""
        rng, tables, next_id = self.rng, self.tables, self.next_id
        community = self.community
        language = rng.choices(LANGUAGES, cum_weights=LANGUAGE_CUMULATIVE_WEIGHTS)[0]
        owner_id = rng.choice(self._eligible(language))[0]
        source = CHATGPT if rng.random() < 0.7 else SHAREGPT
        external_model = EXTERNAL_MODEL_BY_SOURCE[source]
        donated = self.start + (self.latest_start - self.start) * ((self.donated + rng.random()) / self.donations_total)
        uploaded = donated - timedelta(seconds=rng.uniform(60, 172800))

        conversation_id = next_id[Conversation]()
        tables[Conversation].append((conversation_id, community.pk, owner_id, None, "", donated))
        thread = _Thread(conversation_id, owner_id, community.language, "", language, "")
        topic_name, prompt = self._prompt(language)
        turns, parent, answers = [], None, []
        for exchange in range(rng.randint(1, 3)):
            question = prompt if exchange == 0 else rng.choice(FOLLOW_UPS[language])
            for role, text in ((USER, question), (ASSISTANT, self._answer(language, topic_name))):
                message_id = next_id[Message]()
                author, model = (owner_id, "") if role == USER else (None, external_model)
                tables[Message].append(
                    (message_id, conversation_id, parent, role, text, author, None, model, None, donated, donated)
                )
                turns.append({"role": role, "text": text, "is_removed": False})
                parent = message_id
            answers.append(parent)
        tables[Donation].append(
            (next_id[Donation](), owner_id, community.pk, source, prompt[:60] if source == CHATGPT else "", turns,
             DONATED, conversation_id, uploaded, donated)
        )  # fmt: skip
        for answer_id in answers:
            is_rated = rng.random() < DONATED_ANSWER_RATED_SHARE
            raters = self._reviewers(community.language, rng.choice((1, 2)), {owner_id}) if is_rated else []
            for assignment_id, volunteer_id, answered in self._item_answered(
                RATE, donated, thread, raters, answer=answer_id
            ):
                self._ratings(assignment_id, answer_id, volunteer_id, answered, 1100, "other")
            for kind in (FLAG, CORRECT):
                self._item_answered(kind, donated, thread, [], answer=answer_id)
        self.donated += 1


class _Thread(NamedTuple):
    """What the review items of one conversation share."""

    conversation_id: int
    owner_id: int
    language: str  # of the items: the first battle's, or the community's for a donation
    topic: str
    intended: str  # the language its text was written in
    topic_name: str  # the built-in topic its text was written on


# --- Setting up the community, its models and its people ---------------------------------------


def _community_ensure(slug: str) -> Community:
    community = Community.objects.filter(slug=slug).first()
    if community is not None:
        return community
    name = "Open Commons" if slug == "demo" else slug.replace("-", " ").replace("_", " ").title()
    if Community.objects.filter(name=name).exists():
        name = f"{name} ({slug})"
    community = community_create(
        name=name, slug=slug, description="Synthetic pool data for demos and benchmarks (manage.py demo_data)."
    )
    community.topics = sorted({topic for prompts in PROMPTS.values() for topic, _, _ in prompts})
    community.save(update_fields=["topics"])
    return community


def _endpoints_ensure() -> list[ModelEndpoint]:
    existing = {e.name: e for e in ModelEndpoint.objects.filter(name__in=[name for name, _ in MODELS])}
    for name, _ in MODELS:
        if name not in existing:
            existing[name] = ModelEndpoint.objects.create(
                name=name,
                kind=ModelEndpoint.Kind.OPENAI,
                base_url=f"https://{name.replace('.', '-')}.invalid/v1",
                model_id=name,
                community=None,
                is_active=False,
                max_tokens=512,
            )
        elif existing[name].model_id != name:
            raise CommandError(f"An endpoint called {name!r} exists with another model id; rename it first.")
    return [existing[name] for name, _ in MODELS]


def _volunteers_ensure(*, community: Community, count_: int, start: datetime, rng: random.Random) -> list[User]:
    """The first `count_` demo volunteers (created if missing), members of the community who
    accepted its current licence."""
    emails = [f"demo-volunteer-{index:04d}@example.org" for index in range(count_)]
    existing = {user.email: user for user in User.objects.filter(email__in=emails)}
    missing = []
    for index, email in enumerate(emails):
        if email not in existing:
            languages = {3: ["fr"], 6: ["de", "en"], 9: ["es"]}.get(index % 10, [])
            missing.append(
                User(
                    email=email,
                    display_name=f"{FIRST_NAMES[index % len(FIRST_NAMES)]} {chr(65 + index * 7 % 26)}.",
                    password=f"{UNUSABLE_PASSWORD_PREFIX}demo-data",
                    languages=languages,
                    date_joined=start - timedelta(days=rng.uniform(1, 365)),
                )
            )
    User.objects.bulk_create(missing)
    users = {user.email: user for user in User.objects.filter(email__in=emails)}
    members = set(
        Membership.objects.filter(community=community, user__in=users.values()).values_list("user", flat=True)
    )
    new_members, joined_times = [], []
    for email in emails:
        user = users[email]
        if user.pk not in members:
            joined = max(user.date_joined, start - timedelta(days=rng.uniform(0, 60)))
            joined_times.append(joined)
            new_members.append(
                Membership(
                    user=user,
                    community=community,
                    joined_at=joined,
                    licence_name=community.licence_name,
                    licence_version=community.licence_version,
                    licence_accepted_at=joined,
                )
            )
    Membership.objects.bulk_create(new_members)
    # joined_at is auto_now_add, which bulk_create fills with the current time: put it back.
    for membership, joined in zip(new_members, joined_times, strict=True):
        membership.joined_at = joined
    Membership.objects.bulk_update(new_members, ["joined_at"])
    by_pk = {user.pk: user for user in users.values()}
    for membership in Membership.objects.filter(community=community, user__in=by_pk).select_related("community"):
        if not membership.has_current_licence:  # a member before the licence changed
            membership_accept_licence(user=by_pk[membership.user_id], community=community)
    return [users[email] for email in emails]


def _statistics_refresh() -> None:
    """ANALYZE the tables written: after a bulk load the planner's row counts are stale until
    autovacuum gets to them (if it runs at all), and the release's queries then pick nested
    loops over a million rows."""
    tables = [connection.ops.quote_name(model._meta.db_table) for model in (*COLUMNS, User, Membership)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {', '.join(tables)}")
        else:
            for table in tables:
                cursor.execute(f"ANALYZE {table}")


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


class Command(BaseCommand):
    help = "Fill the database with synthetic but realistic pool data (battles, reviews, donations) for demos."

    def add_arguments(self, parser):
        parser.add_argument("--battles", type=int, default=1000, help="How many voted battles to add.")
        parser.add_argument(
            "--seed", type=int, default=0, help="The same seed on the same database gives the same data."
        )
        parser.add_argument("--community", default="demo", help="The community's slug (created if missing).")
        parser.add_argument("--batch-size", type=int, default=5000, help="Battles written per transaction.")

    def handle(self, *args, battles: int, seed: int, community: str, batch_size: int, **options):
        if battles < 1:
            raise CommandError("Ask for at least one battle.")
        if batch_size < 1:
            raise CommandError("The batch size must be at least 1.")
        began = time.monotonic()
        now = timezone.now()
        with transaction.atomic():
            scope = _community_ensure(community)
            # Every page that shows the community's pool, and its releases, say it is synthetic.
            Community.objects.filter(pk=scope.pk).update(has_synthetic_data=True)
            scope.has_synthetic_data = True
            already = Battle.objects.filter(community=scope).count()
            rng = random.Random(f"demo_data:{seed}:{scope.slug}:{already}")  # noqa: S311 (synthetic data, not secrets)
            volunteers = _volunteers_ensure(
                community=scope,
                count_=min(VOLUNTEERS_MAX, max(VOLUNTEERS_MIN, battles // BATTLES_PER_VOLUNTEER)),
                start=now - WINDOW,
                rng=rng,
            )
            endpoints = _endpoints_ensure()
            scales = list(RatingScale.objects.filter(Q(community__isnull=True) | Q(community=scope)).order_by("pk"))
        ids = IdSource(chunk=batch_size)
        writer = RowWriter()
        pool = PoolGenerator(
            rng=rng,
            community=scope,
            endpoints=endpoints,
            volunteers=volunteers,
            scales=scales,
            battles=battles,
            now=now,
            ids=ids,
        )
        self.stderr.write(
            f"demo_data: adding {battles:,} battles to '{scope.slug}' ({already:,} there already), "
            f"{len(volunteers)} volunteers, {len(endpoints)} models, seed {seed}"
        )
        batches = BatchWriter(writer)
        last_report = time.monotonic()
        try:
            while pool.made < battles:
                batches.add(lambda: pool.batch(min(batch_size, battles - pool.made)))
                if time.monotonic() - last_report >= 5:
                    last_report = time.monotonic()
                    self._progress(batches.battles_written, battles, began)
        finally:
            batches.close()
        self._progress(batches.battles_written, battles, began)
        self.stderr.write("demo_data: refreshing the query planner's statistics (ANALYZE)")
        _statistics_refresh()
        # The services update a message's quality gate with each review; rows written in bulk
        # need it computed once, from the reviews as written (docs/moderation.md).
        self.stderr.write("demo_data: computing the quality gates of the reviewed answers")
        gates = review_gates_recompute(community=scope, only_reviewed=True)
        self.stderr.write(f"demo_data: {gates['accepted']:,} of {gates['messages']:,} reviewed answers accepted")
        counts = ", ".join(f"{model._meta.verbose_name_plural}: {n:,}" for model, n in writer.written.items() if n)
        self.stderr.write(f"demo_data: done in {_duration(time.monotonic() - began)}")
        self.stdout.write(f"Added to '{scope.slug}': {counts}.")

    def _progress(self, written: int, battles: int, began: float) -> None:
        rate = written / (time.monotonic() - began)
        left = f", {_duration((battles - written) / rate)} left" if rate else ""
        self.stderr.write(
            f"demo_data: {written:,} / {battles:,} battles written ({100 * written / battles:.0f}%), "
            f"{rate:,.0f} battles/s{left}"
        )
