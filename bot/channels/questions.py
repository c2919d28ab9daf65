"""Two questions in one message are both answered, in order.

「初期パスワードと、ログインするURLを教えてください」 asks two things; Rasa's
NLU gives one message one intent, so the bot would answer only one of them.
We split by sentence, not with Rasa's multi-intents (which need training
examples for every pair of topics): :func:`answer_each_question` stands in the
channel chain in front of the bot::

    channel ──► bound_inputs ──► gate_messages ──► answer_each_question ──► answer_every_turn ──► Rasa

A message of several parts (sentences, or clauses joined by 「と、」「あと」
「それと」「また」…) has each part read by the same NLU as every message. When
at least two parts each ask a *different* topic with confidence, the message
is handed to the bot as one message per topic, in the member's order (the
parts that ask nothing, a greeting or 「よろしくお願いします」, stay with the
topic before them, or the first one); the bot answers each as if it came
alone, in the same output channel. Anything else goes to the bot whole, as
before. Splitting costs one NLU run per part, and only for messages of more
than one part; a message of more than :data:`MAX_PARTS` parts is not split.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, List, Optional, Sequence, Tuple

from rasa.core.channels.channel import UserMessage

from bot.domain.topics import ANSWER_TOPIC_INTENTS, FAQ_INTENT, topic_of_parse

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
Parse = Callable[[str], Awaitable[Optional[dict]]]

# a part counts as a question of its own only when the NLU is this sure of it
MIN_CONFIDENCE = 0.6
MAX_PARTS = 3  # polite mails of four or more sentences are one trouble far more often than two
MAX_CHARS = 600  # longer messages are long mails about one trouble more often than two questions

# sentence ends, and connectives that start a second question
_SENTENCE_END = re.compile(r"(?<=[。？！?!\n])")
# 「と、」 only after a noun (kanji, katakana, letters, a closing bracket): after a
# verb it is a condition (「入力すると、エラーが出る」), one question
_CONNECTIVE = re.compile(
    r"(?:(?<=[\u30a0-\u30ff\u4e00-\u9fffA-Za-z0-9ー）)」』])と、|のと、|(?<=[いた])し、|、あと|、それと|、それから|、また|、ついでに|あと、|また、|それと、|それから、)"
)


# a connective that opens a later sentence (「。それとユーザーIDも…」) says only
# "one more thing"; left on, it reads as a reply (それと → そう) to the NLU
_LEADING_CONNECTIVE = re.compile(
    # only where the connective stands alone: before 、 or a space, or before a word that
    # does not start in hiragana (「あとURLも」), never inside one (あとで, それについて, あと五回)
    r"^(?:それと|それから|それに|あと(?:は)?|ついでに|さらに|もう(?:一つ|ひとつ|1つ)(?:は)?)"
    r"(?:[、,，\s]+|(?=[^\u3040-\u309f0-9０-９一二三四五六七八九十何数、,，\s]))"
)


def split_parts(text: str) -> List[str]:
    """The message cut at sentence ends and question connectives (empty parts dropped).

    A later part loses the connective it opens with.
    """
    parts: List[str] = []
    for sentence in _SENTENCE_END.split(text):
        pieces = _CONNECTIVE.split(sentence)
        for piece in pieces:
            piece = piece.strip()
            if parts:
                piece = _LEADING_CONNECTIVE.sub("", piece, count=1).strip() or piece
            if piece:
                parts.append(piece)
    return parts


def topic_of(parse_data: Optional[dict]) -> Optional[str]:
    """The topic a part asks (``faq/<name>`` for FAQ topics), when the NLU is sure of it."""
    if not parse_data:
        return None
    intent = parse_data.get("intent") or {}
    name, confidence = intent.get("name"), float(intent.get("confidence") or 0.0)
    # only explanations are split off: a procedure asks questions of its own, and a
    # second part would interrupt it
    if name not in ANSWER_TOPIC_INTENTS or confidence < MIN_CONFIDENCE:
        return None
    if name != FAQ_INTENT:
        return str(name)
    # the ranking's figure for `faq` (the intent's is already weighed by the answer's)
    ranked = [r for r in parse_data.get("intent_ranking") or [] if r.get("name") == FAQ_INTENT]
    if ranked:
        confidence = float(ranked[0].get("confidence") or 0.0)
    key = topic_of_parse(parse_data)
    selected = ((parse_data.get("response_selector") or {}).get(FAQ_INTENT) or {}).get("response") or {}
    score = float(selected.get("confidence") or 0.0)
    return key if key and confidence * score >= MIN_CONFIDENCE else None


@dataclass(frozen=True)
class Question:
    text: str
    topic: str


def group_questions(parts: Sequence[Tuple[str, Optional[str]]]) -> List[Question]:
    """Parts (text, topic or None) grouped into one question per topic part, in order.

    A part without a topic joins the question before it (or the first one).
    Two neighbouring parts of the same topic are one question.
    """
    questions: List[Question] = []
    leading: List[str] = []
    for text, topic in parts:
        if topic is None or (questions and questions[-1].topic == topic):
            if questions:
                last = questions[-1]
                questions[-1] = Question(last.text + text, last.topic)
            else:
                leading.append(text)
            continue
        if not questions and leading:
            text = "".join(leading) + text
            leading = []
        questions.append(Question(text, topic))
    return questions


async def questions_in(text: str, parse: Parse) -> List[Question]:
    """The message's questions, when it asks two or more different topics; else []."""
    if len(text) > MAX_CHARS or text.lstrip().startswith("/"):
        return []
    parts = split_parts(text)
    if not 2 <= len(parts) <= MAX_PARTS:
        return []
    topics = [topic_of(await parse(part)) for part in parts]
    if len({t for t in topics if t}) < 2:
        return []
    return group_questions(list(zip(parts, topics, strict=True)))


def answer_each_question(on_new_message: OnNewMessage, holder: Any) -> OnNewMessage:
    """``on_new_message`` that hands a message of several questions to the bot one question at a time.

    ``holder.app.ctx.agent`` is the Rasa server's agent (its NLU reads the
    parts); before the server has one, messages pass whole.
    """

    async def parse(text: str) -> Optional[dict]:
        agent = getattr(getattr(getattr(holder, "app", None), "ctx", None), "agent", None)
        if agent is None or not agent.is_ready():
            return None
        return await agent.parse_message(text)

    async def answered(message: UserMessage) -> Any:
        try:
            questions = await questions_in(message.text or "", parse)
        except Exception:
            # never lose the member's message: it goes to the bot whole
            logger.exception("could not split a message into questions; it goes whole")
            questions = []
        if not questions:
            return await on_new_message(message)
        result = None
        for question in questions:
            part = UserMessage(
                text=question.text,
                output_channel=message.output_channel,
                sender_id=message.sender_id,
                parse_data=None,
                input_channel=message.input_channel,
                message_id=None,
                metadata=message.metadata,
            )
            result = await on_new_message(part)
        return result

    return answered
