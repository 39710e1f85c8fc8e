"""The only producer of user-visible text: Jinja2 templates (Telegram HTML) through gettext."""

from functools import cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot import TEMPLATES_DIR
from bot.i18n import normalise, translations
from bot.kpis.display import FILTERS

TELEGRAM_TEXT_LIMIT = 4096


@cache
def environment(locale: str) -> Environment:
    """One environment per locale, so gettext is installed once and never swapped under a render."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=False,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)
    env.globals["locale"] = locale
    env.filters.update(FILTERS)
    return env


def render(template_name: str, locale: str, /, **context: object) -> str:
    """Render templates/`template_name` in `locale`; the result is Telegram-valid HTML."""
    template = environment(normalise(locale)).get_template(template_name)
    return template.render(**context).strip()
