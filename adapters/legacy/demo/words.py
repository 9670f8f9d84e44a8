"""The made-up names and texts the demo rows are drawn from."""

from __future__ import annotations

_FIRST = (
    "Alice Bruno Chloe Dmitri Elena Farah Gustavo Hana Ines Jonas Kofi Lena Mateo Nadia Oskar Priya "
    "Quentin Rosa Sami Tomas Uma Viktor Wen Ximena Yusuf Zoe Aiko Bilal Carmen Diego Emma Felix"
)
FIRST_NAMES = tuple(_FIRST.split())
_LAST = (
    "Okafor Silva Nguyen Schmidt Rossi Kowalski Haddad Tanaka Moreau Jensen Costa Ivanova "
    "Mensah Lindqvist Park Alvarez Novak Dubois Kaur Fischer Santos Eriksen Mwangi Petrov"
)
LAST_NAMES = tuple(_LAST.split())
JOBS = (
    "data scientist",
    "nurse",
    "climate researcher",
    "high-school teacher",
    "indie game developer",
    "journalist",
    "product designer",
    "civil engineer",
    "PhD student",
    "bookseller",
)
CITIES = ("Lisbon", "Nairobi", "Toronto", "Berlin", "Osaka", "São Paulo", "Melbourne", "Austin", "Lagos", "Oslo")
TOPICS = (
    "local politics",
    "machine learning",
    "birdwatching",
    "urban cycling",
    "sourdough",
    "open source",
    "public health",
    "astronomy",
    "jazz",
    "housing policy",
    "football",
    "climate science",
)
PROFILE_BIOS = (
    "{job} in {city}. Posting about {topic} and {other}.",
    "{topic} | {other} | views my own",
    "Mostly {topic}. Sometimes {other}. {city}.",
    "{job}. Into {topic}. she/her",
    "{job}. Into {topic}. he/him",
)
GENERATED_BIOS = (
    "{first}, {job} from {city}, posts about {topic} and {other}.",
    "Persona: {first} {last}, {job}. Interests: {topic}, {other}. Tone: warm, curious, a little dry.",
    "{first} ({job}) argues about {topic} online and shares {other} photos on weekends.",
    "{first} writes short threads on {topic}; replies are friendly, never snarky. Lives in {city}.",
)
INVALID_HANDLES = (
    "Not A Handle! {n}",
    "@{first}_{n}",
    "{first} {last} {n}",
    "-{first}-{n}.bsky.social",
    "{first}\N{BUTTERFLY}{n}.bsky.social",
)
UNREADABLE_TIMES = ("not a date", "yesterday at noon", "13/45/2024 25:61", "2025_13_45-99:99:99", "soon")
PLATFORMS = ("api", "api", "whatsapp", "discord", "cli")
TOOLS = (
    ("get_weather", {"city": "Lisbon", "unit": "celsius"}, "18°C, sunny"),
    ("search_memory", {"query": "user preferences"}, "prefers short answers"),
    ("send_email", {"to": "team@example.com", "subject": "Weekly report"}, "sent"),
    ("calculator", {"expression": "6 * 7"}, "42"),
)
QUESTIONS = (
    "What's the weather like in Lisbon today?",
    "Can you summarise yesterday's meeting?",
    "Remind me what I said about the budget.",
    "Draft an email to the team about the release.",
    "How much is 6 times 7?",
)
