"""Country, calling-code and US-state tables used by :mod:`relay.normalize`, and the numbering-plan rules
that add a missing calling code to a phone number.

Kept as plain data parsed once at import: ISO 3166-1 alpha-2/alpha-3 codes with English names, common aliases,
ITU calling codes with the usual lengths of national numbers, and the US states, DC, territories and military
"states". No third-party dependency: normalising a million audience rows must stay cheap.
"""

from __future__ import annotations

import unicodedata

# alpha-2, alpha-3, calling code, English name. Countries sharing NANP (+1) all carry "1".
_COUNTRIES = """
ad and 376 Andorra
ae are 971 United Arab Emirates
af afg 93 Afghanistan
ag atg 1 Antigua and Barbuda
ai aia 1 Anguilla
al alb 355 Albania
am arm 374 Armenia
ao ago 244 Angola
aq ata 672 Antarctica
ar arg 54 Argentina
as asm 1 American Samoa
at aut 43 Austria
au aus 61 Australia
aw abw 297 Aruba
ax ala 358 Aland Islands
az aze 994 Azerbaijan
ba bih 387 Bosnia and Herzegovina
bb brb 1 Barbados
bd bgd 880 Bangladesh
be bel 32 Belgium
bf bfa 226 Burkina Faso
bg bgr 359 Bulgaria
bh bhr 973 Bahrain
bi bdi 257 Burundi
bj ben 229 Benin
bl blm 590 Saint Barthelemy
bm bmu 1 Bermuda
bn brn 673 Brunei Darussalam
bo bol 591 Bolivia
bq bes 599 Bonaire, Sint Eustatius and Saba
br bra 55 Brazil
bs bhs 1 Bahamas
bt btn 975 Bhutan
bv bvt 47 Bouvet Island
bw bwa 267 Botswana
by blr 375 Belarus
bz blz 501 Belize
ca can 1 Canada
cc cck 61 Cocos (Keeling) Islands
cd cod 243 Democratic Republic of the Congo
cf caf 236 Central African Republic
cg cog 242 Congo
ch che 41 Switzerland
ci civ 225 Cote d'Ivoire
ck cok 682 Cook Islands
cl chl 56 Chile
cm cmr 237 Cameroon
cn chn 86 China
co col 57 Colombia
cr cri 506 Costa Rica
cu cub 53 Cuba
cv cpv 238 Cabo Verde
cw cuw 599 Curacao
cx cxr 61 Christmas Island
cy cyp 357 Cyprus
cz cze 420 Czechia
de deu 49 Germany
dj dji 253 Djibouti
dk dnk 45 Denmark
dm dma 1 Dominica
do dom 1 Dominican Republic
dz dza 213 Algeria
ec ecu 593 Ecuador
ee est 372 Estonia
eg egy 20 Egypt
eh esh 212 Western Sahara
er eri 291 Eritrea
es esp 34 Spain
et eth 251 Ethiopia
fi fin 358 Finland
fj fji 679 Fiji
fk flk 500 Falkland Islands
fm fsm 691 Micronesia
fo fro 298 Faroe Islands
fr fra 33 France
ga gab 241 Gabon
gb gbr 44 United Kingdom
gd grd 1 Grenada
ge geo 995 Georgia
gf guf 594 French Guiana
gg ggy 44 Guernsey
gh gha 233 Ghana
gi gib 350 Gibraltar
gl grl 299 Greenland
gm gmb 220 Gambia
gn gin 224 Guinea
gp glp 590 Guadeloupe
gq gnq 240 Equatorial Guinea
gr grc 30 Greece
gs sgs 500 South Georgia and the South Sandwich Islands
gt gtm 502 Guatemala
gu gum 1 Guam
gw gnb 245 Guinea-Bissau
gy guy 592 Guyana
hk hkg 852 Hong Kong
hm hmd 672 Heard Island and McDonald Islands
hn hnd 504 Honduras
hr hrv 385 Croatia
ht hti 509 Haiti
hu hun 36 Hungary
id idn 62 Indonesia
ie irl 353 Ireland
il isr 972 Israel
im imn 44 Isle of Man
in ind 91 India
io iot 246 British Indian Ocean Territory
iq irq 964 Iraq
ir irn 98 Iran
is isl 354 Iceland
it ita 39 Italy
je jey 44 Jersey
jm jam 1 Jamaica
jo jor 962 Jordan
jp jpn 81 Japan
ke ken 254 Kenya
kg kgz 996 Kyrgyzstan
kh khm 855 Cambodia
ki kir 686 Kiribati
km com 269 Comoros
kn kna 1 Saint Kitts and Nevis
kp prk 850 North Korea
kr kor 82 South Korea
kw kwt 965 Kuwait
ky cym 1 Cayman Islands
kz kaz 7 Kazakhstan
la lao 856 Laos
lb lbn 961 Lebanon
lc lca 1 Saint Lucia
li lie 423 Liechtenstein
lk lka 94 Sri Lanka
lr lbr 231 Liberia
ls lso 266 Lesotho
lt ltu 370 Lithuania
lu lux 352 Luxembourg
lv lva 371 Latvia
ly lby 218 Libya
ma mar 212 Morocco
mc mco 377 Monaco
md mda 373 Moldova
me mne 382 Montenegro
mf maf 590 Saint Martin
mg mdg 261 Madagascar
mh mhl 692 Marshall Islands
mk mkd 389 North Macedonia
ml mli 223 Mali
mm mmr 95 Myanmar
mn mng 976 Mongolia
mo mac 853 Macao
mp mnp 1 Northern Mariana Islands
mq mtq 596 Martinique
mr mrt 222 Mauritania
ms msr 1 Montserrat
mt mlt 356 Malta
mu mus 230 Mauritius
mv mdv 960 Maldives
mw mwi 265 Malawi
mx mex 52 Mexico
my mys 60 Malaysia
mz moz 258 Mozambique
na nam 264 Namibia
nc ncl 687 New Caledonia
ne ner 227 Niger
nf nfk 672 Norfolk Island
ng nga 234 Nigeria
ni nic 505 Nicaragua
nl nld 31 Netherlands
no nor 47 Norway
np npl 977 Nepal
nr nru 674 Nauru
nu niu 683 Niue
nz nzl 64 New Zealand
om omn 968 Oman
pa pan 507 Panama
pe per 51 Peru
pf pyf 689 French Polynesia
pg png 675 Papua New Guinea
ph phl 63 Philippines
pk pak 92 Pakistan
pl pol 48 Poland
pm spm 508 Saint Pierre and Miquelon
pn pcn 64 Pitcairn
pr pri 1 Puerto Rico
ps pse 970 Palestine
pt prt 351 Portugal
pw plw 680 Palau
py pry 595 Paraguay
qa qat 974 Qatar
re reu 262 Reunion
ro rou 40 Romania
rs srb 381 Serbia
ru rus 7 Russia
rw rwa 250 Rwanda
sa sau 966 Saudi Arabia
sb slb 677 Solomon Islands
sc syc 248 Seychelles
sd sdn 249 Sudan
se swe 46 Sweden
sg sgp 65 Singapore
sh shn 290 Saint Helena, Ascension and Tristan da Cunha
si svn 386 Slovenia
sj sjm 47 Svalbard and Jan Mayen
sk svk 421 Slovakia
sl sle 232 Sierra Leone
sm smr 378 San Marino
sn sen 221 Senegal
so som 252 Somalia
sr sur 597 Suriname
ss ssd 211 South Sudan
st stp 239 Sao Tome and Principe
sv slv 503 El Salvador
sx sxm 1 Sint Maarten
sy syr 963 Syria
sz swz 268 Eswatini
tc tca 1 Turks and Caicos Islands
td tcd 235 Chad
tf atf 262 French Southern Territories
tg tgo 228 Togo
th tha 66 Thailand
tj tjk 992 Tajikistan
tk tkl 690 Tokelau
tl tls 670 Timor-Leste
tm tkm 993 Turkmenistan
tn tun 216 Tunisia
to ton 676 Tonga
tr tur 90 Turkiye
tt tto 1 Trinidad and Tobago
tv tuv 688 Tuvalu
tw twn 886 Taiwan
tz tza 255 Tanzania
ua ukr 380 Ukraine
ug uga 256 Uganda
um umi 1 United States Minor Outlying Islands
us usa 1 United States
uy ury 598 Uruguay
uz uzb 998 Uzbekistan
va vat 39 Holy See
vc vct 1 Saint Vincent and the Grenadines
ve ven 58 Venezuela
vg vgb 1 British Virgin Islands
vi vir 1 United States Virgin Islands
vn vnm 84 Vietnam
vu vut 678 Vanuatu
wf wlf 681 Wallis and Futuna
ws wsm 685 Samoa
xk xkx 383 Kosovo
ye yem 967 Yemen
yt myt 262 Mayotte
za zaf 27 South Africa
zm zmb 260 Zambia
zw zwe 263 Zimbabwe
"""

# Other spellings met in customer files (official long forms, native names, short forms).
_ALIASES = {
    "ae": "UAE; Emirates",
    "at": "Österreich; Oesterreich; Osterreich",
    "ax": "Åland",
    "ba": "Bosnia; Bosnia-Herzegovina",
    "be": "Belgique; Belgie; België; Belgien",
    "bl": "Saint-Barthélemy; St Barthelemy",
    "bn": "Brunei",
    "bo": "Bolivia, Plurinational State of",
    "br": "Brasil",
    "cd": "DR Congo; DRC; Congo-Kinshasa; Congo, Democratic Republic of the",
    "cg": "Republic of the Congo; Congo-Brazzaville; Congo, Republic of the",
    "ch": "Schweiz; Suisse; Svizzera; Swiss Confederation",
    "ci": "Côte d'Ivoire; Ivory Coast",
    "cn": "People's Republic of China; PRC; Zhongguo; 中国",
    "cv": "Cape Verde",
    "cw": "Curaçao",
    "cz": "Czech Republic; Česko; Ceska republika",
    "de": "Deutschland; Federal Republic of Germany; Allemagne; Alemania",
    "dk": "Danmark",
    "es": "España; Espana; Espagne",
    "fi": "Suomi",
    "fk": "Falkland Islands (Malvinas); Malvinas",
    "fm": "Micronesia, Federated States of",
    "fr": "French Republic",
    "gb": "UK; U.K.; Great Britain; Britain; England; Scotland; Wales; Northern Ireland; "
    "United Kingdom of Great Britain and Northern Ireland",
    "gr": "Hellas; Ellada",
    "hk": "Hong Kong SAR",
    "hr": "Hrvatska",
    "hu": "Magyarorszag",
    "ie": "Eire; Éire; Republic of Ireland",
    "ir": "Iran, Islamic Republic of; Persia",
    "it": "Italia",
    "jp": "Nippon; Nihon; 日本",
    "kp": "Korea, Democratic People's Republic of; DPRK",
    "kr": "Korea; Korea, Republic of; Republic of Korea; 대한민국; 한국",
    "la": "Lao People's Democratic Republic; Lao",
    "md": "Moldova, Republic of",
    "mf": "Saint Martin (French part); Saint-Martin",
    "mk": "Macedonia; Republic of North Macedonia",
    "mm": "Burma",
    "mo": "Macau",
    "mx": "México",
    "nl": "Nederland; Holland; The Netherlands",
    "no": "Norge",
    "pl": "Polska",
    "ps": "Palestine, State of; Palestinian Territories",
    "pt": "Portuguese Republic",
    "re": "Réunion",
    "ru": "Russian Federation; Rossiya; Россия",
    "se": "Sverige",
    "sh": "Saint Helena",
    "st": "São Tomé and Príncipe",
    "sx": "Sint Maarten (Dutch part)",
    "sy": "Syrian Arab Republic",
    "sz": "Swaziland",
    "tl": "East Timor",
    "tr": "Turkey; Türkiye",
    "tw": "Taiwan, Province of China; Republic of China",
    "tz": "Tanzania, United Republic of",
    "us": "USA; U.S.A.; U.S.; United States of America; America; US of A",
    "va": "Vatican; Vatican City; Vatican City State",
    "ve": "Venezuela, Bolivarian Republic of",
    "vg": "Virgin Islands, British",
    "vi": "US Virgin Islands; Virgin Islands; Virgin Islands, U.S.",
    "vn": "Viet Nam",
}

_US_STATES = """
al Alabama
ak Alaska
az Arizona
ar Arkansas
ca California
co Colorado
ct Connecticut
de Delaware
fl Florida
ga Georgia
hi Hawaii
id Idaho
il Illinois
in Indiana
ia Iowa
ks Kansas
ky Kentucky
la Louisiana
me Maine
md Maryland
ma Massachusetts
mi Michigan
mn Minnesota
ms Mississippi
mo Missouri
mt Montana
ne Nebraska
nv Nevada
nh New Hampshire
nj New Jersey
nm New Mexico
ny New York
nc North Carolina
nd North Dakota
oh Ohio
ok Oklahoma
or Oregon
pa Pennsylvania
ri Rhode Island
sc South Carolina
sd South Dakota
tn Tennessee
tx Texas
ut Utah
vt Vermont
va Virginia
wa Washington
wv West Virginia
wi Wisconsin
wy Wyoming
dc District of Columbia
dc Washington DC
dc Washington D.C.
pr Puerto Rico
gu Guam
vi U.S. Virgin Islands
vi Virgin Islands
as American Samoa
mp Northern Mariana Islands
um United States Minor Outlying Islands
aa Armed Forces Americas
ae Armed Forces Europe
ap Armed Forces Pacific
"""

# Usual lengths of national significant numbers (after the calling code) per calling code. They only
# decide whether digits that start with the country's code already include it; codes not listed accept
# anything up to E.164's 15 digits.
_NATIONAL_LENGTHS = """
1:10 7:10 20:8-10 27:9 30:10 31:9 32:8-9 33:9 34:9 36:8-9 39:6-11 40:9 41:9 43:4-13 44:9-10 45:8 46:7-10
47:8 48:9 49:6-13 51:8-9 52:10 53:8 54:10-11 55:10-11 56:9 57:10 58:10 60:8-10 61:9 62:8-12 63:8-10
64:8-10 65:8 66:8-9 81:9-10 82:8-10 84:9-10 86:9-11 90:10 91:10 92:9-10 93:9 94:9 95:7-10 98:10
211:9 212:9 213:8-9 216:8 218:9 220:7 221:9 222:8 223:8 224:8-9 225:10 226:8 227:8 228:8 229:8-10
230:7-8 231:7-9 232:8 233:9 234:8-10 235:8 236:8 237:9 238:7 239:7 240:9 241:7-8 242:9 243:9 244:9
245:7-9 246:7 248:7 249:9 250:9 251:9 252:7-9 253:8 254:9-10 255:9 256:9 257:8 258:8-9 260:9 261:9
262:9 263:9-10 264:8-9 265:7-9 266:8 267:7-8 268:8 269:7 290:4-5 291:7 297:7 298:6 299:6 350:8 351:9
352:4-11 353:7-9 354:7-9 355:8-9 356:8 357:8 358:5-12 359:8-9 370:8 371:8 372:7-8 373:8 374:8 375:9
376:6-9 377:8-9 378:6-10 380:9 381:7-9 382:8 383:8 385:8-9 386:8 387:8-9 389:8 420:9 421:9 423:7-9
500:5 501:7 502:8 503:8 504:8 505:8 506:8 507:7-8 508:6 509:8 590:9 591:8 592:7 593:8-9 594:9 595:9
596:9 597:6-7 598:8 599:7-8 670:7-8 672:6 673:7 674:7 675:7-8 676:5-7 677:5-7 678:5-7 679:7 680:7
681:6 682:5 683:4-7 685:5-7 686:5-8 687:6 688:5-6 689:8 690:4-7 691:7 692:7 850:8-10 852:8 853:8
855:8-9 856:8-10 880:10 886:8-9 960:7 961:7-8 962:8-9 963:8-9 964:8-10 965:8 966:9 967:7-9 968:8
970:8-9 971:8-9 972:8-9 973:8 974:8 975:7-8 976:8 977:8-10 992:9 993:8 994:9 995:9 996:9 998:9
"""

#: countries whose national numbers keep their leading 0 after the calling code (+39 06 ..., +225 07 ...)
KEEP_LEADING_ZERO = frozenset({"it", "sm", "va", "ci", "cg"})
#: calling codes of :data:`KEEP_LEADING_ZERO`, to recognise ``+39 06 ...`` in international form
KEEP_ZERO_CODES = frozenset({"39", "378", "225", "242"})
#: national trunk prefixes other than 0 (Russia, Kazakhstan and Belarus dial 8)
TRUNK_PREFIX = {"ru": "8", "kz": "8", "by": "8"}
#: international call prefixes other than 00 that a national-format string may start with
INTERNATIONAL_PREFIX = {"us": "011", "ca": "011", "au": "0011", "jp": "010"}
#: countries whose numbers are written without a trunk prefix and vary in length: a number that starts
#: with the country's own code is then more likely national (Italian mobiles start 39x)
NATIONAL_WHEN_AMBIGUOUS = frozenset({"it", "sm", "va", "lu"})
#: countries writing dates month first (2/16/1997)
MONTH_FIRST_COUNTRIES = frozenset({"us", "um", "as", "gu", "mp", "pr", "vi", "ph", "fm", "mh", "pw", "ca"})
#: "states" mapped to their two-letter code under these countries (the US and its territories)
US_STATE_COUNTRIES = frozenset({"us", "pr", "gu", "vi", "as", "mp", "um"})


def lookup_key(value: str) -> str:
    """``value`` reduced to a lookup key: accents removed, lowercase, letters a-z and other scripts only."""
    decomposed = unicodedata.normalize("NFKD", value.lower())
    return "".join(ch for ch in decomposed if ch.isalpha() and not unicodedata.combining(ch))


def _parse_countries() -> tuple[dict[str, str], dict[str, str]]:
    codes: dict[str, str] = {}
    calling: dict[str, str] = {}
    for line in _COUNTRIES.strip().splitlines():
        alpha2, alpha3, code, name = line.split(maxsplit=3)
        calling[alpha2] = code
        for key in (alpha2, alpha3, lookup_key(name)):
            codes.setdefault(key, alpha2)
    for alpha2, names in _ALIASES.items():
        for name in names.split("; "):
            codes.setdefault(lookup_key(name), alpha2)
    return codes, calling


def _parse_lengths() -> dict[str, frozenset[int]]:
    lengths: dict[str, frozenset[int]] = {}
    for item in _NATIONAL_LENGTHS.split():
        code, span = item.split(":")
        low, _, high = span.partition("-")
        lengths[code] = frozenset(range(int(low), int(high or low) + 1))
    return lengths


def _parse_states() -> dict[str, str]:
    states: dict[str, str] = {}
    for line in _US_STATES.strip().splitlines():
        code, name = line.split(maxsplit=1)
        states[code] = code
        states[lookup_key(name)] = code
    return states


#: lookup key (see :func:`lookup_key`) of an alpha-2 or alpha-3 code, a name or an alias -> alpha-2
COUNTRY_CODES, CALLING_CODES = _parse_countries()
#: calling code -> usual lengths of the national significant number
NATIONAL_LENGTHS = _parse_lengths()
#: all calling codes (they are prefix-free: none is the start of another)
CALLING_CODE_SET = frozenset(CALLING_CODES.values())
#: lookup key of a US state, DC, territory or military "state" name or code -> two-letter code
US_STATES = _parse_states()


def national_lengths(calling_code: str) -> frozenset[int]:
    """Plausible lengths of a national number under ``calling_code``."""
    found = NATIONAL_LENGTHS.get(calling_code)
    return found if found is not None else frozenset(range(4, 16 - len(calling_code)))


def split_calling_code(digits: str) -> str | None:
    """The calling code that ``digits`` (an international number without ``+``) starts with, if any."""
    for size in (1, 2, 3):
        if digits[:size] in CALLING_CODE_SET:
            return digits[:size]
    return None


def international_number(digits: str) -> str:
    """An international number (the digits after ``+``/``00``) with a trunk ``0`` written after the calling
    code dropped (``+44 (0)20 ...``), except where national numbers keep it (``+39 06 ...``)."""
    code = split_calling_code(digits)
    if code is None or code in KEEP_ZERO_CODES or digits[len(code) : len(code) + 1] != "0":
        return digits
    return code + digits[len(code) :].lstrip("0")


def with_calling_code(digits: str, country: str | None) -> str:
    """Digits written without ``+``, with the calling code of ``country`` (alpha-2) added where missing.

    A leading international prefix (``00``, ``011`` in the US ...) makes it international; a leading trunk
    prefix makes it national; otherwise the usual national lengths decide whether the digits already start
    with the country's code. Without a country only leading zeros are stripped.
    """
    idd = INTERNATIONAL_PREFIX.get(country) if country else None
    if idd and digits.startswith(idd):
        return international_number(digits[len(idd) :].lstrip("0"))
    if digits.startswith("00"):
        return international_number(digits.lstrip("0"))
    if country is None:
        return digits.lstrip("0")
    code = CALLING_CODES[country]
    if digits[0] == "0":
        return code + (digits if country in KEEP_LEADING_ZERO else digits.lstrip("0"))
    lengths = national_lengths(code)
    trunk = TRUNK_PREFIX.get(country)
    if trunk and digits.startswith(trunk) and len(digits) - len(trunk) in lengths:
        return code + digits[len(trunk) :]
    national = len(digits) in lengths
    if digits.startswith(code) and len(digits) - len(code) in lengths:
        if not national or country not in NATIONAL_WHEN_AMBIGUOUS:
            return digits
    if national:
        return code + digits
    if digits.startswith(code):
        return digits  # no reading has a usual length, but it names its own code
    other = split_calling_code(digits)
    if other is not None and len(digits) - len(other) in national_lengths(other):
        return digits  # a foreign number written without its "+"
    return code + digits


__all__ = [
    "CALLING_CODES",
    "CALLING_CODE_SET",
    "COUNTRY_CODES",
    "INTERNATIONAL_PREFIX",
    "KEEP_LEADING_ZERO",
    "KEEP_ZERO_CODES",
    "MONTH_FIRST_COUNTRIES",
    "NATIONAL_LENGTHS",
    "NATIONAL_WHEN_AMBIGUOUS",
    "TRUNK_PREFIX",
    "US_STATES",
    "US_STATE_COUNTRIES",
    "international_number",
    "lookup_key",
    "national_lengths",
    "split_calling_code",
    "with_calling_code",
]
