"""Photos and documents as form fields, end to end through the simulator: sent while filing
(an album counts as several), refused when they do not fit, shown on the summary, kept on edit,
listed in the export and downloaded byte for byte with `opsbot export --with-files`."""

from datetime import date

import pytest
import time_machine
from sqlalchemy import select
from support import local, make_staff

from bot.forms.spec import FormSpec
from bot.models import Report
from bot.simulator.samples import png

pytestmark = pytest.mark.databases

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A form only this test's config has: a text, receipts (several photos), a contract (one
# document of two types, at most 1 MB) and optional attachments.
CLAIM = {
    "key": "claim",
    "command": "claim",
    "name": {"zh": "报销单", "en": "Expense claim"},
    "roles": ["channel"],
    "cadence": "adhoc",
    "fields": [
        {"key": "purpose", "type": "text", "label": {"zh": "用途", "en": "Purpose"}},
        {
            "key": "receipts",
            "type": "photo",
            "label": {"zh": "收据", "en": "Receipts"},
            "help": {"zh": "请发送收据照片（可多张）", "en": "Send the receipts"},
            "max_items": 5,
        },
        {
            "key": "contract",
            "type": "document",
            "label": {"zh": "合同", "en": "Contract"},
            "accept": ["pdf", "docx"],
            "max_mb": 1,
        },
        {
            "key": "extra",
            "type": "document",
            "label": {"zh": "其他附件", "en": "Other attachments"},
            "required": False,
            "max_items": 3,
        },
    ],
}
# The same receipts on a form that goes for approval (its requests are exported too).
APPROVED = {
    "key": "petty",
    "command": "petty",
    "name": {"zh": "小额报销", "en": "Petty cash"},
    "roles": ["channel"],
    "cadence": "adhoc",
    "target": "approval",
    "fields": [CLAIM["fields"][0], CLAIM["fields"][1]],
    "approval": {"steps": [{"who": "directors", "name": {"zh": "运营总监", "en": "Director"}}]},
}
PHOTOS = [png(1280, 960, 10), png(1024, 768, 20), png(800, 600, 30)]
HOSTILE = "<zz>&"
# tests/test_i18n.py renders these with hostile names: escaped, valid Telegram HTML.
CONTEXTS = {
    "form_files_so_far.html.j2": dict(kind="photo", files=[HOSTILE, HOSTILE]),
    "form_files_received.html.j2": dict(
        kind="document", files=[HOSTILE], notes=["file_replaced"], max_items=1
    ),
    "file_unexpected.html.j2": dict(forms=[HOSTILE]),
}
CONTRACT = b"%PDF-1.4 contract " + bytes(range(256)) * 8


@pytest.fixture
def settings(settings):
    """The tests' settings with the claim form added (the [files] defaults applied to it)."""
    forms = (*settings.reports.forms, *map(FormSpec.model_validate, (CLAIM, APPROVED)))
    reports = settings.files.applied(settings.reports.model_copy(update={"forms": forms}))
    return settings.model_copy(update={"reports": reports})


@pytest.fixture
def thursday():
    with time_machine.travel(local("2026-11-26 10:00"), tick=True) as traveller:
        yield traveller


@pytest.fixture
async def wang(app, sessions, channel_manager, director, thursday):
    await make_staff(sessions, channel_manager, "channel")
    await channel_manager.send("/start")
    return channel_manager


def q(person) -> str:
    return person.inbox[-1].plain


async def fill_to_receipts(wang) -> None:
    await wang.send("/claim")
    await wang.send("客户接待餐费")
    assert "2/4" in q(wang) and "收据" in q(wang)


async def send_receipts(wang) -> None:
    await wang.send_photo(PHOTOS[0])
    await wang.send_album([("photo", PHOTOS[1], "b.jpg"), ("photo", PHOTOS[2], "c.jpg")])


async def send_contract(wang, name: str = "合同.pdf") -> None:
    await wang.send_document(CONTRACT, filename=name, mime_type=PDF)


async def test_it_files_three_photos_one_an_album_and_a_document(app, sessions, wang):
    await fill_to_receipts(wang)
    question = q(wang)
    assert "请发送收据照片（可多张）" in question
    assert "请发送照片（最多 5 张），发完点 ✅ 完成；每张最大 20 MB。" in question

    await wang.send("见附件")  # text where photos are asked for
    assert "这一项要的是照片，不是文字" in q(wang)

    await wang.send_photo(PHOTOS[0])
    ack = [line for line in q(wang).splitlines()[1:] if line]
    assert ack == ["✅ 已收到 1 张：收据1.jpg", "可以继续发送，发完点 ✅ 完成。"]
    assert wang.inbox[-1].labels[:2] == ["✅ 完成", "🗑 全部移除"]
    await wang.send_album([("photo", PHOTOS[1], "b.jpg"), ("photo", PHOTOS[2], "c.jpg")])
    assert "✅ 已收到 3 张：收据1.jpg、收据2.jpg、收据3.jpg" in q(wang)
    await wang.press(wang.inbox[-1], "✅ 完成")

    assert "3/4" in q(wang) and "请发送一个文件（PDF、DOCX），发完点 ✅ 完成；最大 1 MB。" in q(
        wang
    )
    await wang.send_document(b"a,b\n1,2\n", filename="明细.xlsx", mime_type=XLSX)
    assert "这一项不收这种类型的文件：请发送以下类型之一：PDF、DOCX。" in q(wang)
    await wang.send_document(b"%PDF" + b"0" * (1024 * 1024 + 1), filename="大.pdf", mime_type=PDF)
    assert "这个文件有 1 MB，超过了 1 MB 的上限" in q(wang)
    await send_contract(wang)
    assert "✅ 已收到 1 个文件：合同.pdf" in q(wang) and "点 ✅ 完成 继续。" in q(wang)
    await wang.press(wang.inbox[-1], "✅ 完成")

    assert "4/4" in q(wang) and "（选填）" in q(wang)
    await wang.press(wang.inbox[-1], "跳过")
    review = q(wang)
    assert "收据：🖼 照片 ×3" in review
    assert f"合同：📎 合同.pdf（{round(len(CONTRACT) / 1024)} KB）" in review
    assert "其他附件：—" in review
    await wang.press(wang.inbox[-1], "✅ 提交")
    assert "已提交" in q(wang)

    async with sessions() as s:
        report = await s.scalar(select(Report).where(Report.form_key == "claim"))
    receipts = report.answers["receipts"]
    assert [r["name"] for r in receipts] == ["收据1.jpg", "收据2.jpg", "收据3.jpg"]
    assert {r["kind"] for r in receipts} == {"photo"} and len({r["file_id"] for r in receipts}) == 3
    assert all(r["staff_id"] == report.staff_id for r in receipts)
    assert receipts[0]["at"].startswith("2026-11-26T02:0") and receipts[0]["at"].endswith("+00:00")
    assert [r["size"] for r in receipts] == [len(p) for p in PHOTOS]  # the largest size each
    [contract] = report.answers["contract"]
    assert contract | {"file_id": "", "file_unique_id": "", "at": ""} == {
        "kind": "document", "name": "合同.pdf", "size": len(CONTRACT), "mime": PDF,
        "staff_id": report.staff_id, "file_id": "", "file_unique_id": "", "at": "",
    }  # fmt: skip
    assert report.answers["extra"] is None


async def test_a_required_file_question_needs_a_file_and_takes_no_more_than_it_says(
    app, settings, wang
):
    await fill_to_receipts(wang)
    await wang.press(wang.inbox[-1], "✅ 完成")  # nothing sent yet
    assert "这一项至少需要一张照片" in q(wang)
    for shade in range(6):
        await wang.send_photo(png(640, 480, 100 + shade))
    assert "这一项最多 5 张照片，这张没有收下" in q(wang)
    await wang.press(wang.inbox[-1], "🗑 全部移除")
    assert "已全部移除，请重新发送。" in q(wang)
    await wang.send_photo(PHOTOS[0])
    assert "已收到 1 张：收据1.jpg" in q(wang)
    await wang.press(wang.inbox[-1], "✅ 完成")
    await wang.send_photo(PHOTOS[1])  # a photo where a PDF or DOCX is asked for
    assert "这一项不收这种类型的文件" in q(wang)
    await wang.send("合同见邮件")
    assert "这一项要的是文件，不是文字" in q(wang)
    await send_contract(wang, "旧合同.pdf")
    await send_contract(wang, "新合同.docx")  # one file: the newer one replaces it
    assert "已替换之前发送的那个" in q(wang) and "已收到 1 个文件：新合同.docx" in q(wang)


async def test_a_file_where_none_is_asked_for_says_what_files_are_for(app, wang):
    await wang.send_photo(PHOTOS[0])
    assert "现在没有在等文件" in q(wang) and "/claim 报销单" in q(wang)
    await wang.send("/claim")
    await wang.send_document(CONTRACT, filename="合同.pdf", mime_type=PDF)  # at the text question
    assert "这一步不收文件" in q(wang) and "1/4" in q(wang)


async def test_a_photo_question_takes_an_image_sent_as_a_file_but_no_other_file(app, wang):
    await fill_to_receipts(wang)
    await wang.send_document(CONTRACT, filename="合同.pdf", mime_type=PDF)
    assert "这不是图片：这一项请发送照片。" in q(wang)
    await wang.send_document(PHOTOS[0], filename="IMG_0001.png", mime_type="image/png")
    assert "✅ 已收到 1 张：IMG_0001.png" in q(wang)


async def test_file_names_are_escaped_on_the_summary(app, wang):
    await fill_to_receipts(wang)
    await send_receipts(wang)
    await wang.press(wang.inbox[-1], "✅ 完成")
    await send_contract(wang, "<b>&合同.pdf")
    assert "&lt;b&gt;&amp;合同.pdf" in wang.inbox[-1].text
    await wang.press(wang.inbox[-1], "✅ 完成")
    await wang.press(wang.inbox[-1], "跳过")
    assert "📎 &lt;b&gt;&amp;合同.pdf（" in wang.inbox[-1].text


async def test_editing_a_filed_report_keeps_its_files_and_may_replace_them(app, sessions, wang):
    await fill_to_receipts(wang)
    await send_receipts(wang)
    await wang.press(wang.inbox[-1], "✅ 完成")
    await send_contract(wang)
    await wang.press(wang.inbox[-1], "✅ 完成")
    await wang.send_document(b"notes", filename="说明.txt", mime_type="text/plain")
    await wang.press(wang.inbox[-1], "✅ 完成")
    await wang.press(wang.inbox[-1], "✅ 提交")

    await wang.send("/claim")  # the same day: the filed report, to edit
    assert "收据：🖼 照片 ×3" in q(wang) and "其他附件：📎 说明.txt（5 B）" in q(wang)
    await wang.press(wang.inbox[-1], "✏️ 修改某项")
    await wang.press(wang.inbox[-1], "合同")
    assert "已收到 1 个文件：合同.pdf" in q(wang)
    await send_contract(wang, "合同v2.pdf")
    await wang.press(wang.inbox[-1], "✅ 完成")
    await wang.press(wang.inbox[-1], "✅ 提交")

    async with sessions() as s:
        report = await s.scalar(select(Report).where(Report.form_key == "claim"))
    assert report.version == 2
    assert len(report.answers["receipts"]) == 3
    assert [c["name"] for c in report.answers["contract"]] == ["合同v2.pdf"]
    assert [c["name"] for c in report.answers["extra"]] == ["说明.txt"]


async def test_one_message_keeps_the_text_and_asks_for_the_files(app, wang):
    await wang.send("/claim 用途：客户接待餐费")
    assert "文字部分已记下。照片和文件不能写在文字里：请现在发送。" in q(wang)
    assert "收据" in q(wang) and "请发送照片（最多 5 张）" in q(wang)
    await send_receipts(wang)
    await wang.press(wang.inbox[-1], "✅ 完成")
    assert "3/4" in q(wang) and "合同" in q(wang)  # the next file still missing
    await send_contract(wang)
    await wang.press(wang.inbox[-1], "✅ 完成")
    assert "照片和文件不能写在文字里：如需添加，请点 ✏️ 修改某项。" in q(wang)
    await wang.press(wang.inbox[-1], "✅ 提交")
    assert "已提交" in q(wang)


def test_file_fields_are_checked_in_config():
    from pydantic import ValidationError

    base = {"key": "f", "label": {"zh": "文件", "en": "File"}}
    assert FormSpec.model_validate(CLAIM).field("contract").max_items == 1  # one unless said
    with pytest.raises(ValidationError, match="only a document field has accept"):
        FormSpec.model_validate(CLAIM | {"fields": [base | {"type": "photo", "accept": ["pdf"]}]})
    with pytest.raises(ValidationError, match="neither an extension"):
        FormSpec.model_validate(
            CLAIM | {"fields": [base | {"type": "document", "accept": ["p d f"]}]}
        )
    with pytest.raises(ValidationError, match="only a photo or document field has max_mb"):
        FormSpec.model_validate(CLAIM | {"fields": [base | {"type": "text", "max_mb": 2}]})


def test_files_defaults_come_from_config():
    from bot.config import load_settings

    forms = (FormSpec.model_validate(CLAIM),)
    settings = load_settings(files={"max_mb": 5, "accept": ["pdf"]})
    reports = settings.files.applied(settings.reports.model_copy(update={"forms": forms}))
    claim = reports.form("claim")
    assert claim.field("receipts").max_mb == 5 and claim.field("contract").max_mb == 1
    assert claim.field("extra").accept == ("pdf",) and claim.field("contract").accept == (
        "pdf",
        "docx",
    )
    assert date  # the export tests below use it


# ---- the export ------------------------------------------------------------------------------


async def file_claim(wang) -> None:
    await fill_to_receipts(wang)
    await send_receipts(wang)
    await wang.press(wang.inbox[-1], "✅ 完成")
    await send_contract(wang)
    await wang.press(wang.inbox[-1], "✅ 完成")
    await wang.press(wang.inbox[-1], "跳过")
    await wang.press(wang.inbox[-1], "✅ 提交")
    assert "已提交" in q(wang)


async def test_the_export_has_a_files_sheet(app, sessions, settings, wang):
    from bot.services import export

    await file_claim(wang)
    async with sessions() as s:
        sheets = await export.sheets(s, settings, date(2026, 11, 1), date(2026, 11, 30), "zh")
    [(_, header, rows)] = [sheet for sheet in sheets if sheet[0] == "文件"]
    assert header == [
        "表单", "期间或日期", "字段", "文件名", "大小（字节）", "类型", "发送人", "发送时间",
        "文件 ID",
    ]  # fmt: skip
    assert [row[:5] for row in rows] == [
        ["报销单", "2026-11-26", "收据", "收据1.jpg", len(PHOTOS[0])],
        ["报销单", "2026-11-26", "收据", "收据2.jpg", len(PHOTOS[1])],
        ["报销单", "2026-11-26", "收据", "收据3.jpg", len(PHOTOS[2])],
        ["报销单", "2026-11-26", "合同", "合同.pdf", len(CONTRACT)],
    ]
    assert [row[5:7] for row in rows[2:]] == [
        ["照片 · image/jpeg", "王 伟"],
        ["文件 · " + PDF, "王 伟"],
    ]
    assert rows[0][7].strftime("%Y-%m-%d %H") == "2026-11-26 10" and rows[0][8]
    await wang.send("/petty")
    await wang.send("打车")
    await wang.send_photo(PHOTOS[2])
    await wang.press(wang.inbox[-1], "✅ 完成")
    assert "收据：🖼 照片 ×1" in q(wang)
    await wang.press(wang.inbox[-1], "✅ 提交")
    async with sessions() as s:
        sheets = await export.sheets(s, settings, date(2026, 11, 26), date(2026, 11, 26), "zh")
        none = await export.sheets(s, settings, date(2026, 12, 1), date(2026, 12, 31), "en")
    [(_, _, rows)] = [sheet for sheet in sheets if sheet[0] == "文件"]
    assert rows[-1][:5] == ["小额报销", "2026-11-26", "收据", "收据1.jpg", len(PHOTOS[2])]
    assert [sheet[2] for sheet in none if sheet[0] == "Files"] == [[]]


async def test_opsbot_export_with_files_downloads_them_byte_for_byte(
    app, sim, sessions, db_url, wang, tmp_path
):
    from support import opsbot_env, run_opsbot

    await file_claim(wang)
    big = sim.user_file(b"0" * (20 * 1024 * 1024 + 1), "录像.zip", "application/zip", "document")
    async with sessions() as s, s.begin():
        report = await s.scalar(select(Report).where(Report.form_key == "claim"))
        extra = [
            {"kind": "document", "file_id": big.file_id, "name": "录像.zip", "size": big.size},
            {"kind": "document", "file_id": "no-such-file", "name": "旧.pdf", "size": 10},
        ]
        report.answers = {**report.answers, "extra": extra}
    out = tmp_path / "files"
    env = opsbot_env(sim, db_url)
    code, stdout, err = await run_opsbot("export", "--period", "2026-11", "--with-files", str(out),
                                         env=env)  # fmt: skip
    assert code == 0, err
    assert f"{out}: 4 files saved, 0 already there" in stdout
    folder = out / "claim"
    assert f"over the Bot API's 20 MB: {folder / '2026-11-26_王 伟_录像.zip'}" in err
    assert f"Telegram no longer has it: {folder / '2026-11-26_王 伟_旧.pdf'}" in err
    saved = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert saved == {
        "2026-11-26_王 伟_收据1.jpg": PHOTOS[0],
        "2026-11-26_王 伟_收据2.jpg": PHOTOS[1],
        "2026-11-26_王 伟_收据3.jpg": PHOTOS[2],
        "2026-11-26_王 伟_合同.pdf": CONTRACT,
    }
    (folder / "2026-11-26_王 伟_合同.pdf").unlink()
    code, stdout, _ = await run_opsbot("export", "--period", "2026-11", "--with-files", str(out),
                                       env=env)  # fmt: skip
    assert code == 0 and f"{out}: 1 files saved, 3 already there" in stdout
    assert (folder / "2026-11-26_王 伟_合同.pdf").read_bytes() == CONTRACT


async def test_opsbot_export_needs_out_or_with_files(db_url, tmp_path):
    from support import opsbot_env, run_opsbot

    code, _, err = await run_opsbot("export", "--period", "2026-11", env=opsbot_env(None, db_url))
    assert code == 2 and "--out FILE.xlsx, --with-files DIR, or both" in err


def test_downloaded_names_are_safe_and_never_overwrite_each_other(tmp_path):
    from bot.cli.export import _targets
    from bot.services.export import FiledFile

    def filed(name: str, who: str = "王 伟") -> FiledFile:
        return FiledFile("claim", "报销单", "2026-11-26", "合同", who, {"name": name})

    found = _targets(tmp_path, [filed("合同.pdf"), filed("合同.pdf"), filed("../a/b:c.pdf", "x/y")])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "claim/2026-11-26_王 伟_合同.pdf",
        "claim/2026-11-26_王 伟_合同 (2).pdf",
        "claim/2026-11-26_x_y_.._a_b_c.pdf",
    ]
    [long] = _targets(tmp_path, [filed("长" * 300 + ".docx")])
    assert len(long.name) == 80 and long.name.endswith("长.docx")
