"""A daily report typed as one sentence (issue 21): the card shows each value with the words it
was read from, the missing fields are asked one by one, nothing is filed before Submit, and a
person's correction becomes their own word (/synonyms shows and forgets it)."""

import pytest
import time_machine
from sqlalchemy import select
from support import local, make_staff

from bot import clock
from bot.models import Channel, Obligation, PersonalSynonym, Report
from jobs.tick import tick

SENTENCE = "/daily 今天跑了华润和万科两家物业，华润签了，带来下载120、注册35，明天去电力公司"


@pytest.fixture
def thursday_afternoon():
    with time_machine.travel(local("2026-11-26 17:00"), tick=True) as traveller:
        yield traveller


@pytest.fixture
async def wang(app, sim, sessions, channel_manager, director, thursday_afternoon):
    """The channel manager with today's obligation, and 华润物业 and 万科物业 in the library."""
    await make_staff(sessions, channel_manager, "channel")
    await director.send("/start")
    await channel_manager.send("/start")
    await tick(app.bot_data, app.bot)
    async with sessions() as s, s.begin():
        for name in ("华润物业", "万科物业"):
            now = clock.now()
            s.add(Channel(name=name, norm_name=name, industry="property", region="shenyang",
                          stage="contacted", created_at=now, updated_at=now))  # fmt: skip
    return channel_manager


def q(person) -> str:
    return person.inbox[-1].plain


def buttons(person) -> list[str]:
    return [b.text for row in person.inbox[-1].buttons for b in row]


async def _answer_the_missing(wang) -> None:
    # New channels, negotiating and go-lives were not in the sentence: asked one by one.
    assert "新增入库渠道数" in q(wang)
    await wang.send("0")
    assert "洽谈中的渠道数" in q(wang)
    await wang.send("1")
    assert "今日交付上线数" in q(wang)
    await wang.send("0")


async def test_a_sentence_fills_the_card_with_each_value_and_its_words(app, sessions, wang):
    await wang.send(SENTENCE)
    await _answer_the_missing(wang)
    card = q(wang)
    assert "接触的渠道：华润物业、万科物业" in card
    assert "今日签约数：1 ← “华润签了”" in card
    assert "渠道带来的下载量：120 ← “带来下载120”" in card
    assert "渠道带来的注册量：35 ← “注册35”" in card
    assert "下一个工作日计划：明天去电力公司 ← “明天去电力公司”" in card
    assert "还空着：教导渠道用户数、问题与支持" in card  # the optional ones, left empty
    assert "点“提交”之前不会提交任何内容" in card
    async with sessions() as s:
        assert await s.scalar(select(Report)) is None  # nothing filed before Submit

    await wang.press(wang.inbox[-1], "✅ 提交")

    assert "按时提交" in q(wang)
    async with sessions() as s:
        report = await s.scalar(select(Report))
        obligation = await s.scalar(select(Obligation))
    assert report.answers["downloads"] == 120 and report.answers["registrations"] == 35
    assert report.answers["contracts_signed"] == 1 and report.answers["plan"] == "明天去电力公司"
    assert [c["name"] for c in report.answers["contacted"]] == ["华润物业", "万科物业"]
    assert obligation.status == "filed"


async def test_labelled_lines_are_read_as_before(app, wang):
    await wang.send("/daily\n渠道带来的下载量：500\n渠道带来的注册量：120")
    assert "“" not in q(wang)  # no sentence quoted: the labels were read
    assert "下一个工作日计划" in q(wang)  # and the first missing field is asked, as before


async def test_contradictions_repeats_and_vague_figures_are_pointed_out(app, wang):
    await wang.send(
        "/daily 下载120，注册35，下载150，新增0，在谈1，签约0，上线0，明天去万科，注册35，下载100多"
    )
    card = q(wang)
    assert "渠道带来的下载量：150" in card
    assert "渠道带来的下载量读到了不同的数：“下载120” / “下载150”。暂用最后一个，请核对。" in card
    assert "渠道带来的注册量说了两次，数值相同。" in card
    assert "不是确切的数，没有填：“下载100多”。" in card


@pytest.mark.databases
async def test_a_correction_teaches_the_person_their_own_word(app, sessions, wang):
    await wang.send("/daily 拉新35，下载120，新增0，在谈1，签约0，上线0，明天去万科")
    assert "渠道带来的注册量" in q(wang)  # required, not understood: asked
    await wang.send("35")
    card = q(wang)
    assert "记住了：你说的“拉新”指渠道带来的注册量" in card
    async with sessions() as s:
        learnt = await s.scalar(select(PersonalSynonym))
    assert (learnt.phrase, learnt.field, learnt.form_key) == (
        "拉新",
        "registrations",
        "daily_channel",
    )
    await wang.press(wang.inbox[-1], "✖ 取消")

    await wang.send("/daily 拉新40，下载90，新增0，在谈1，签约0，上线0，明天去华润")
    assert "渠道带来的注册量：40 ← “拉新40”" in q(wang)  # read with the word learnt

    await wang.send("/synonyms")
    assert "“拉新” → 渠道带来的注册量（渠道拓展日报）" in q(wang)
    await wang.press(wang.inbox[-1], "🗑 拉新")
    assert "已删除：“拉新”。" in q(wang) and "你还没有自己的说法" in q(wang)
    async with sessions() as s:
        assert await s.scalar(select(PersonalSynonym)) is None


async def test_yesterdays_report_is_filed_for_yesterday_while_it_is_open(app, sessions, wang):
    with time_machine.travel(local("2026-11-27 09:00"), tick=True):
        await tick(app.bot_data, app.bot)
        await wang.send("/daily 昨天的日报：下载50，注册10，新增0，在谈1，签约0，上线0，明天去万科")
        assert "11月26日" in q(wang)
        await wang.press(wang.inbox[-1], "✅ 提交")
    async with sessions() as s:
        report = await s.scalar(select(Report))
    assert report.period_key == "2026-11-26" and report.answers["downloads"] == 50


async def test_a_sentence_as_the_first_answer_fills_the_form(app, wang):
    await wang.send("/daily")
    assert "1/10" in q(wang)
    await wang.send("华润签了，下载120，注册35，新增0，在谈1，上线0，明天去万科")
    assert "渠道带来的下载量：120 ← “下载120”" in q(wang) and "✅ 提交" in buttons(wang)


async def test_a_new_channel_named_in_the_sentence_is_offered_to_add(app, sessions, wang):
    await wang.send("/daily 拜访了绿地物业，在谈，下载10，注册2，新增1，签约0，上线0，明天再去")
    assert "新渠道「绿地物业」还不在渠道库中。它在哪个地区？" in q(wang)
    await wang.press(wang.inbox[-1], "沈阳")
    await wang.press(wang.inbox[-1], "物业")
    await wang.press(wang.inbox[-1], "完成")
    card = q(wang)
    assert "接触的渠道：绿地物业" in card and "洽谈中的渠道数：1 ← “绿地物业，在谈”" in card
    async with sessions() as s:
        assert await s.scalar(select(Channel.name).where(Channel.name == "绿地物业")) == "绿地物业"


async def test_an_english_sentence_fills_the_weekly_summary(app, sessions, user_ops_manager, wang):
    lina = user_ops_manager
    await make_staff(sessions, lina, "user_ops")
    await lina.send("/start")
    await tick(app.bot_data, app.bot)
    await lina.send(
        "/weekly new registrations 900, active 2000, retained 1200, churned 100, won back 20. "
        "Feedback: users want a PDF bill. Actions: added it to the roadmap"
    )
    card = q(lina)
    assert "New registrations this week: 900 ← “new registrations 900”" in card
    assert "Users won back: 20 ← “won back 20”" in card
    assert "This week's user feedback: users want a PDF bill" in card
    assert "Nothing is filed until you press Submit." in card
    await lina.press(lina.inbox[-1], "✅ Submit")
    async with sessions() as s:
        report = await s.scalar(select(Report))
    assert (
        report.answers["active_users"] == 2000
        and report.answers["actions"] == "added it to the roadmap"
    )


async def test_a_value_moved_to_another_field_teaches_what_the_word_means(app, sessions, wang):
    await wang.send("/daily 新增20，下载100，在谈1，签约0，上线0，明天去万科")
    assert "渠道带来的注册量" in q(wang)  # not in the sentence: asked
    await wang.send("20")  # registrations: the 20 was his sign-ups, not new channels
    await wang.press(wang.inbox[-1], "✏️ 修改某项")
    await wang.press(wang.inbox[-1], "新增入库渠道数")
    await wang.send("0")
    assert "记住了：你说的“新增”指渠道带来的注册量" in q(wang)
    async with sessions() as s:
        learnt = await s.scalar(select(PersonalSynonym))
    assert (learnt.phrase, learnt.field) == ("新增", "registrations")
