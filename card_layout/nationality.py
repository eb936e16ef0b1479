"""Ethnic-group ("nationality") codes of GB/T 3304, as stored on the card (two ASCII digits)."""

from __future__ import annotations

import logging
import unicodedata

from .errors import FieldError

logger = logging.getLogger(__name__)

_NAMES = [
    "汉",
    "蒙古",
    "回",
    "藏",
    "维吾尔",
    "苗",
    "彝",
    "壮",
    "布依",
    "朝鲜",
    "满",
    "侗",
    "瑶",
    "白",
    "土家",
    "哈尼",
    "哈萨克",
    "傣",
    "黎",
    "傈僳",
    "佤",
    "畲",
    "高山",
    "拉祜",
    "水",
    "东乡",
    "纳西",
    "景颇",
    "柯尔克孜",
    "土",
    "达斡尔",
    "仫佬",
    "羌",
    "布朗",
    "撒拉",
    "毛南",
    "仡佬",
    "锡伯",
    "阿昌",
    "普米",
    "塔吉克",
    "怒",
    "乌孜别克",
    "俄罗斯",
    "鄂温克",
    "德昂",
    "保安",
    "裕固",
    "京",
    "塔塔尔",
    "独龙",
    "鄂伦春",
    "赫哲",
    "门巴",
    "珞巴",
    "基诺",
]

#: GB/T 3304 code -> name (without the suffix 族).
ETHNIC_GROUPS: dict[str, str] = {f"{i:02d}": name for i, name in enumerate(_NAMES, start=1)}
ETHNIC_GROUPS["97"] = "其他"
ETHNIC_GROUPS["98"] = "外国血统中国籍人士"

_BY_NAME: dict[str, str] = {name: code for code, name in ETHNIC_GROUPS.items()}

SUFFIX = "族"


def parse_nationality(value: str) -> str:
    """The 2-digit code for a code ("01"), a name ("汉") or a name with 族 ("汉族")."""
    if not isinstance(value, str):
        raise FieldError("nationality", "bad_format", "nationality must be text")
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        raise FieldError("nationality", "empty", "nationality must not be empty")
    if text in ETHNIC_GROUPS:
        return text
    if text in _BY_NAME:
        return _BY_NAME[text]
    if text.endswith(SUFFIX) and text[: -len(SUFFIX)] in _BY_NAME:
        return _BY_NAME[text[: -len(SUFFIX)]]
    raise FieldError(
        "nationality", "unknown_code", f"nationality {text!r} is not a GB/T 3304 code or name"
    )


def nationality_name(code: str) -> str:
    """The name for a GB/T 3304 code (e.g. "01" -> "汉")."""
    try:
        return ETHNIC_GROUPS[code]
    except (KeyError, TypeError):
        raise FieldError(
            "nationality", "unknown_code", f"{code!r} is not a GB/T 3304 code"
        ) from None
