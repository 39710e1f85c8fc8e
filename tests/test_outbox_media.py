"""Cards that carry a user's files, through the outbox and the simulator: one file with the card
as its caption and buttons; several after the card, photos as an album, documents apart; a long
card as text with the file after it; a card sent as a photo edited through its caption."""

import pytest

from bot import outbox, sender
from bot.simulator.samples import png
from bot.telegram_io import TelegramTransport

pytestmark = pytest.mark.databases
BUTTONS = [[("✅ 批准", "x:1:1")]]


@pytest.fixture(autouse=True)
async def started(director, channel_manager):
    """Both opened their chat with the bot (a bot writes to no one before that)."""
    director.started = channel_manager.started = True


async def _files(person, count_photos=0, documents=()):
    """Files `person` sent to the bot, as form answers keep them (kind + file_id)."""
    kept = []
    for n in range(count_photos):
        msg = await person.send_photo(png(40 + n, 30), filename=f"receipt{n}.png")
        kept.append({"kind": "photo", "file_id": msg.photo.file_id})
    for name in documents:
        msg = await person.send_document(b"%PDF-1.4 x", filename=name, mime_type="application/pdf")
        kept.append({"kind": "document", "file_id": msg.document.file_id})
    return kept


async def _send(app, sessions, chat_id, text, files, key="card"):
    async with sessions() as s, s.begin():
        await outbox.enqueue_card(s, key, chat_id, text, BUTTONS, files)
    await sender.deliver(sessions, TelegramTransport(app.bot))


async def test_one_photo_carries_the_card_as_caption_with_its_buttons(
    app, sim, sessions, director, channel_manager
):
    files = await _files(channel_manager, 1)
    await _send(app, sessions, director.id, "<b>费用申报 #1</b> 出租车 ¥86.00", files)
    card = director.inbox[-1]
    assert card.photo is not None and card.photo.file_id == files[0]["file_id"]
    assert card.plain == "费用申报 #1 出租车 ¥86.00" and card.labels == ["✅ 批准"]


async def test_several_files_follow_the_card_photos_as_an_album_documents_apart(
    app, sim, sessions, director, channel_manager
):
    files = await _files(channel_manager, 3, ["bid.pdf"])
    await _send(app, sessions, director.id, "内容发布审核 #2", files)
    card, *after = director.inbox[-5:]
    assert card.plain == "内容发布审核 #2" and card.labels == ["✅ 批准"]
    assert [bool(m.photo) for m in after] == [True, True, True, False]
    albums = {m.extra.get("media_group_id") for m in after[:3]}
    assert len(albums) == 1 and None not in albums  # one album of three photos
    assert "media_group_id" not in after[3].extra  # the lone document apart
    assert after[3].document.file_id == files[3]["file_id"]


async def test_a_card_longer_than_a_caption_goes_as_text_with_the_file_after(
    app, sim, sessions, director, channel_manager
):
    files = await _files(channel_manager, 1)
    long = "说明" * 600  # 1,200 characters: more than a caption's 1,024
    await _send(app, sessions, director.id, long, files)
    card, photo = director.inbox[-2:]
    assert card.plain == long and card.labels == ["✅ 批准"]
    assert photo.photo.file_id == files[0]["file_id"]


async def test_a_photo_card_is_edited_through_its_caption(
    app, sim, sessions, director, channel_manager
):
    files = await _files(channel_manager, 1)
    await _send(app, sessions, director.id, "待审批", files)
    async with sessions() as s, s.begin():
        assert await outbox.enqueue_edit(s, "card:decided", "card", "✅ 已批准（张 总）")
    await sender.deliver(sessions, TelegramTransport(app.bot))
    card = director.inbox[-1]
    assert card.plain == "✅ 已批准（张 总）" and card.buttons == [] and card.photo is not None
