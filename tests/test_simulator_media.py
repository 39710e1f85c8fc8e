"""The simulator's photos, documents and albums: what users send and what a bot may send back."""

import json

import aiohttp
import pytest
from telegram import Bot, InputMediaDocument, InputMediaPhoto, Update
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError

from bot.simulator import SimulatorError, TelegramSimulator
from bot.simulator.samples import png

TOKEN = "123456:TEST"
RECEIPT = png(1600, 1200)
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


@pytest.fixture
async def sim():
    async with TelegramSimulator(token=TOKEN, bot_id=123456) as simulator:
        yield simulator


@pytest.fixture
async def bot(sim):
    async with Bot(TOKEN, base_url=sim.base_url, base_file_url=sim.base_file_url) as ptb_bot:
        yield ptb_bot


@pytest.fixture
async def seen(sim, bot):
    """The updates the bot receives, parsed by PTB as a real bot would parse them."""
    received: list[Update] = []

    async def on_update(raw: dict) -> None:
        received.append(Update.de_json(raw, bot))

    sim.on_update = on_update
    return received


@pytest.fixture
async def wang(sim, seen):
    user = sim.user(id=1001, first_name="王", last_name="伟", username="wangwei")
    await user.send("/start")
    seen.clear()
    return user


@pytest.fixture
async def team(sim, wang, seen):
    group = sim.group(id=-1001, title="运营部")
    await sim.add_bot_to_group(group, by=wang)
    seen.clear()
    return group


async def telegram_says(sim: TelegramSimulator, call) -> str:
    """Await a bot call that must fail; return Telegram's exact description."""
    with pytest.raises(TelegramError):
        await call
    return sim.calls[-1].error_description


async def downloaded(bot: Bot, file_id: str) -> bytes:
    file = await bot.get_file(file_id)
    return bytes(await file.download_as_bytearray())


# What users send


async def test_a_users_photo_arrives_in_several_sizes_and_downloads_byte_for_byte(
    sim, bot, seen, wang
):
    await wang.send_photo(RECEIPT, caption="发票 /cancel @opsbot_test_bot")
    message = seen[-1].message
    sizes = message.photo
    assert len(sizes) >= 3
    assert [s.width for s in sizes] == sorted(s.width for s in sizes)
    assert (sizes[-1].width, sizes[-1].height) == (1600, 1200)
    assert all(s.file_id and s.file_unique_id and s.file_size for s in sizes)
    assert len({s.file_unique_id for s in sizes}) == len(sizes)
    assert sizes[-1].file_size == len(RECEIPT)
    assert message.caption == "发票 /cancel @opsbot_test_bot"
    assert [(e.type, e.offset, e.length) for e in message.caption_entities] == [
        ("bot_command", 3, 7),
        ("mention", 11, 16),
    ]
    assert message.text is None
    assert await downloaded(bot, sizes[-1].file_id) == RECEIPT
    small = await downloaded(bot, sizes[0].file_id)
    assert small.startswith(b"\x89PNG") and max(sizes[0].width, sizes[0].height) == 90


async def test_a_users_document_keeps_its_name_type_and_bytes(sim, bot, seen, wang):
    await wang.send_document(
        PDF, filename="投标书.pdf", mime_type="application/pdf", caption="标书"
    )
    doc = seen[-1].message.document
    assert (doc.file_name, doc.mime_type, doc.file_size) == (
        "投标书.pdf",
        "application/pdf",
        len(PDF),
    )
    assert seen[-1].message.caption == "标书"
    file = await bot.get_file(doc.file_id)
    assert "投标书" not in file.file_path and file.file_path.endswith(".pdf")
    assert await downloaded(bot, doc.file_id) == PDF


async def test_a_document_without_a_name_has_no_file_name(sim, seen, wang):
    await wang.send_document(b"data", filename="", mime_type="")
    doc = seen[-1].message.document
    assert doc.file_name is None and doc.mime_type is None and doc.file_size == 4


async def test_an_album_arrives_as_one_update_per_item_sharing_a_media_group_id(sim, seen, wang):
    sent = await wang.send_album(
        [("photo", RECEIPT, "a.jpg"), ("photo", png(300, 200), "b.jpg"), ("photo", RECEIPT, "c")],
        caption="三张发票",
    )
    assert len(sent) == 3 and len(seen) == 3
    groups = {u.message.media_group_id for u in seen}
    assert len(groups) == 1 and None not in groups
    assert [u.message.caption for u in seen] == ["三张发票", None, None]
    docs = await wang.send_album([("document", PDF, "a.pdf"), ("document", b"x", "b.txt")])
    assert [m.document.mime_type for m in docs] == ["application/pdf", "text/plain"]
    assert seen[-1].message.media_group_id not in groups


async def test_a_client_cannot_send_what_telegram_would_not_let_it(sim, wang):
    with pytest.raises(SimulatorError):
        await wang.send_photo(b"not an image")
    with pytest.raises(SimulatorError):
        await wang.send_photo(png(9000, 2000))  # width + height over 10,000
    with pytest.raises(SimulatorError):
        await wang.send_document(b"", filename="empty.txt")
    with pytest.raises(SimulatorError):
        await wang.send_album([("photo", RECEIPT, "a.jpg")])
    with pytest.raises(SimulatorError):
        await wang.send_album([("photo", RECEIPT, "a.jpg"), ("document", PDF, "b.pdf")])
    with pytest.raises(SimulatorError):
        await wang.send_photo(RECEIPT, caption="字" * 4097)


async def test_in_a_group_privacy_mode_hides_photos_unless_their_caption_is_a_command(
    sim, seen, wang, team
):
    await wang.send_photo(RECEIPT, caption="看看这个", chat=team)
    assert seen == []
    await wang.send_photo(RECEIPT, caption="/report", chat=team)
    assert seen[-1].message.chat.id == team.id and seen[-1].message.photo


async def test_get_file_refuses_files_over_20_mb(sim, bot, seen, wang):
    big = b"\0" * (20 * 1024 * 1024 + 1)
    await wang.send_document(big, filename="video.mp4", mime_type="video/mp4")
    file_id = seen[-1].message.document.file_id
    assert await telegram_says(sim, bot.get_file(file_id)) == "Bad Request: file is too big"
    exactly = b"\0" * (20 * 1024 * 1024)
    await wang.send_document(exactly, filename="ok.bin")
    assert (await bot.get_file(seen[-1].message.document.file_id)).file_size == len(exactly)
    assert await telegram_says(sim, bot.get_file("nonsense")) == "Bad Request: invalid file_id"


# What a bot sends


async def test_captions_are_limited_to_1024_characters_after_entity_parsing(sim, bot, wang):
    await bot.send_photo(wang.id, RECEIPT, caption="<b>" + "图" * 1024 + "</b>", parse_mode="HTML")
    await bot.send_document(wang.id, PDF, filename="a.pdf", caption="😀" * 512)  # UTF-16 units
    for call in (
        bot.send_photo(wang.id, RECEIPT, caption="图" * 1025),
        bot.send_document(wang.id, PDF, filename="a.pdf", caption="😀" * 512 + "x"),
    ):
        assert await telegram_says(sim, call) == "Bad Request: message caption is too long"
    card = await bot.send_photo(wang.id, RECEIPT, caption="卡片")
    said = await telegram_says(
        sim, bot.edit_message_caption(wang.id, card.message_id, caption="长" * 1025)
    )
    assert said == "Bad Request: message caption is too long"
    edited = await bot.edit_message_caption(
        wang.id, card.message_id, caption="<i>" + "长" * 1024 + "</i>", parse_mode="HTML"
    )
    assert len(edited.caption) == 1024
    said = await telegram_says(sim, bot.edit_message_text("文字", wang.id, card.message_id))
    assert said == "Bad Request: there is no text in the message to edit"


async def test_photos_are_limited_to_10_mb_and_sane_dimensions(sim, bot, wang):
    huge = png(100, 100) + b"\0" * (10 * 1024 * 1024)
    said = await telegram_says(sim, bot.send_photo(wang.id, huge))
    assert said == (
        f"Bad Request: file of size {len(huge)} bytes is too big for a photo; "
        "the maximum size is 10485760 bytes"
    )
    for width, height in ((6000, 4001), (2100, 100)):
        said = await telegram_says(sim, bot.send_photo(wang.id, png(width, height)))
        assert said == "Bad Request: PHOTO_INVALID_DIMENSIONS"
    said = await telegram_says(sim, bot.send_photo(wang.id, b"GIF89"))
    assert said == "Bad Request: IMAGE_PROCESS_FAILED"
    sent = await bot.send_photo(wang.id, png(2000, 100))  # ratio exactly 20
    assert (sent.photo[-1].width, sent.photo[-1].height) == (2000, 100)
    assert len(sent.photo) > 1  # Telegram returns the smaller sizes too


async def test_document_uploads_over_50_mb_are_refused_with_413(sim, bot, wang):
    with pytest.raises(NetworkError, match="Request Entity Too Large"):
        await bot.send_document(wang.id, b"\0" * (50 * 1024 * 1024 + 1), filename="big.zip")
    assert sim.calls[-1].error_code == 413
    assert wang.last is None


async def test_empty_uploads_and_unknown_file_ids_are_refused(sim, bot, wang):
    said = await telegram_says(sim, bot.send_document(wang.id, b"", filename="a.txt"))
    assert said == "Bad Request: file must be non-empty"
    said = await telegram_says(sim, bot.send_document(wang.id, "BQACAgIAAxkBAAI"))
    assert said == "Bad Request: wrong file identifier/HTTP URL specified"


async def test_a_file_id_sends_only_its_own_kind(sim, bot, seen, wang):
    await wang.send_document(PDF, filename="a.pdf")
    doc_id = seen[-1].message.document.file_id
    await wang.send_photo(RECEIPT)
    photo_id = seen[-1].message.photo[-1].file_id
    again = await bot.send_document(wang.id, doc_id, caption="原件")
    assert again.document.file_unique_id == seen[-2].message.document.file_unique_id
    assert (await bot.send_photo(wang.id, photo_id)).photo[-1].width == 1600
    said = await telegram_says(sim, bot.send_photo(wang.id, doc_id))
    assert said == "Bad Request: can't use file of type Document as Photo"
    said = await telegram_says(sim, bot.send_document(wang.id, photo_id))
    assert said == "Bad Request: can't use file of type Photo as Document"


async def test_send_media_group_returns_an_album_sharing_one_media_group_id(sim, bot, seen, wang):
    await wang.send_photo(RECEIPT)
    known = seen[-1].message.photo[-1].file_id
    sent = await bot.send_media_group(
        wang.id,
        [
            InputMediaPhoto(RECEIPT, caption="<b>收据</b> 1", parse_mode="HTML"),
            InputMediaPhoto(png(400, 300)),
            InputMediaPhoto(known, caption="旧的"),
        ],
    )
    assert len(sent) == 3
    assert len({m.media_group_id for m in sent}) == 1 and sent[0].media_group_id
    assert [m.caption for m in sent] == ["收据 1", None, "旧的"]
    assert sent[0].caption_entities[0].type == "bold"
    assert [m.message_id for m in wang.inbox[-3:]] == [m.message_id for m in sent]
    assert wang.inbox[-2].photo.data == png(400, 300)
    assert all(m.reply_markup is None for m in sent)
    docs = await bot.send_media_group(
        wang.id,
        [InputMediaDocument(PDF, filename="a.pdf"), InputMediaDocument(b"b", filename="b.txt")],
        caption="两份文件",
    )
    assert [m.document.file_name for m in docs] == ["a.pdf", "b.txt"]
    assert docs[0].caption == "两份文件" and docs[1].caption is None
    assert docs[0].media_group_id != sent[0].media_group_id
    assert await downloaded(bot, docs[0].document.file_id) == PDF


async def test_send_media_group_sends_a_lone_item_as_an_ordinary_message(sim, bot, wang):
    sent = await bot.send_media_group(wang.id, [InputMediaPhoto(RECEIPT)])
    assert len(sent) == 1 and sent[0].media_group_id is None


async def test_send_media_group_refuses_what_telegram_refuses(sim, bot, wang):
    photo, doc = InputMediaPhoto(RECEIPT), InputMediaDocument(PDF, filename="a.pdf")
    cases = [
        ([photo, doc], "Bad Request: document can't be mixed with other media types"),
        ([InputMediaPhoto(RECEIPT) for _ in range(11)], "too many messages to send as an album"),
        ([photo, InputMediaPhoto(RECEIPT, caption="图" * 1025)], "message caption is too long"),
        ([photo, InputMediaPhoto(b"not an image")], "Bad Request: IMAGE_PROCESS_FAILED"),
        ([photo, InputMediaPhoto("no-such-file-id")], "wrong file identifier/HTTP URL specified"),
        (
            [photo, InputMediaPhoto(RECEIPT, caption="<b>", parse_mode="HTML")],
            "Bad Request: can't parse entities",
        ),
    ]
    for media, error in cases:
        said = await telegram_says(sim, bot.send_media_group(wang.id, media))
        assert error in said
    assert wang.last is None  # a refused album sends nothing
    async with aiohttp.ClientSession() as http:
        for media, error in (
            ([], "Bad Request: there are no messages to send"),
            (
                [{"type": "photo", "media": "attach://missing"}, {"type": "photo", "media": "x"}],
                "Bad Request: can't parse InputMedia: media not found",
            ),
            (
                [{"type": "sticker", "media": "x"}, {"type": "photo", "media": "x"}],
                'Bad Request: can\'t parse InputMedia: type "sticker" is unsupported',
            ),
        ):
            body = {"chat_id": wang.id, "media": json.dumps(media)}
            async with http.post(f"{sim.base_url}{TOKEN}/sendMediaGroup", data=body) as resp:
                assert (resp.status, (await resp.json())["description"]) == (400, error)


async def test_edit_message_media_replaces_a_cards_photo(sim, bot, wang):
    card = await bot.send_photo(wang.id, RECEIPT, caption="第一版")
    new = png(800, 600)
    edited = await bot.edit_message_media(
        InputMediaPhoto(new, caption="第二版"), chat_id=wang.id, message_id=card.message_id
    )
    assert edited.caption == "第二版" and edited.photo[-1].width == 800
    assert wang.last.photo.data == new and wang.last.history == ["第一版"]
    text = await bot.send_message(wang.id, "文字")
    with pytest.raises(BadRequest):
        await bot.edit_message_media(
            InputMediaPhoto(new), chat_id=wang.id, message_id=text.message_id
        )


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_each_message_of_an_album_counts_against_the_flood_limits(sim, bot, wang):
    sim.monotonic = lambda: 0.0
    sim.flood_limits = True
    await bot.send_media_group(wang.id, [InputMediaPhoto(RECEIPT), InputMediaPhoto(RECEIPT)])
    await bot.send_photo(wang.id, RECEIPT)  # the third of a private chat's burst of three
    with pytest.raises(RetryAfter):
        await bot.send_photo(wang.id, RECEIPT)
    assert len(wang.inbox) == 3


async def test_a_user_edits_a_photos_caption(sim, seen, wang):
    photo = await wang.send_photo(RECEIPT, caption="旧说明")
    await wang.edit(photo, "新说明 /help")
    edited = seen[-1].edited_message
    assert edited.caption == "新说明 /help" and edited.text is None and edited.photo
    assert edited.caption_entities[0].type == "bot_command"
    assert photo.history == ["旧说明"]


async def test_a_caption_that_is_empty_once_parsed_sends_the_file_without_one(sim, bot, wang):
    sent = await bot.send_photo(wang.id, RECEIPT, caption="<b> </b>\n", parse_mode="HTML")
    assert sent.caption is None and wang.last.photo.data == RECEIPT
    doc = await bot.send_document(wang.id, PDF, filename="a.pdf", caption="  ")
    assert doc.caption is None
