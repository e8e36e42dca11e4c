"""The names MLS feeds use for each ``properties`` column: RESO Data Dictionary names, RETS 1.x
standard names, common vendor spellings and the labels (LongName) people type.

``kind`` says which field types can fill the column. ``avoid`` lists words that, in a field's
LongName, mark a look-alike (Original List Price, Private Remarks, Lot SqFt…); an entry without
letters or digits ("$") is matched as a plain substring.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ColumnNames:
    column: str
    kind: str  # id, text, decimal, integer, status, urls
    reso: tuple[str, ...]  # RESO Data Dictionary names, best first
    standard: tuple[str, ...]  # RETS 1.x standard names and vendor spellings
    labels: tuple[str, ...]  # LongName phrases
    avoid: tuple[str, ...] = ()


_PARTY = ("agent", "office", "member", "broker", "owner", "buyer", "seller", "selling", "co", "settlement", "showing")

COLUMN_NAMES: dict[str, ColumnNames] = {
    names.column: names
    for names in [
        ColumnNames(
            "external_id", "id",
            reso=("ListingId",),
            standard=("ListingID", "ListID", "MLSNumber", "MLNumber", "MLSID", "MLSNum", "ListNumber", "ListingNumber", "MLNo"),
            labels=("listing id", "mls number", "mls #", "ml #", "ml number", "listing number", "list number", "mls id",
                    "mls no", "ml no"),
            avoid=(*_PARTY, "internal", "board", "prefix", "main", "duplicate", "parcel", "tax", "previous", "old"),
        ),
        ColumnNames(
            "address", "text",
            reso=("UnparsedAddress",),
            standard=("StreetAddress", "FullStreetAddress", "FullAddress", "Address", "AddressLine1", "StreetAddr"),
            labels=("street address", "full address", "property address", "address", "full street address",
                    "address internet display"),
            avoid=(*_PARTY, "mailing", "billing", "email", "e mail", "tax", "web", "url", "ip", "on internet", "legal"),
        ),
        ColumnNames(
            "list_price", "decimal",
            reso=("ListPrice",),
            standard=("ListPrice", "ListingPrice", "AskingPrice", "CurrentPrice", "LP", "Price"),
            labels=("list price", "listing price", "asking price", "current price", "current list price", "price"),
            avoid=("original", "previous", "prior", "close", "closed", "sold", "sell", "selling", "per", "sqft",
                   "sq", "sqft", "range", "lease", "rent", "rental", "assessed", "tax", "fee", "low", "high",
                   "concession", "reduction", "change"),
        ),
        ColumnNames(
            "bedrooms", "integer",
            reso=("BedroomsTotal",),
            standard=("Bedrooms", "Beds", "BedsTotal", "TotalBedrooms", "NumBedrooms", "BedroomCount", "Bdrms", "BR"),
            labels=("bedrooms", "beds", "total bedrooms", "bedrooms total", "beds total", "# beds", "#beds",
                    "number of bedrooms", "bedroom count", "# bedrooms", "br"),
            avoid=("main", "level", "above", "below", "grade", "master", "description", "desc", "dimension",
                   "dimensions", "convertible", "possible", "length", "width", "remarks", "room", "upper", "lower"),
        ),
        ColumnNames(
            "bathrooms", "decimal",
            reso=("BathroomsTotalDecimal", "BathroomsTotalInteger"),
            standard=("BathroomsTotal", "BathsTotal", "Baths", "TotalBaths", "Bathrooms", "TotalBathrooms",
                      "NumBaths", "BathsTotalDecimal", "BA"),
            labels=("bathrooms", "baths", "total bathrooms", "baths total", "bathrooms total", "total baths",
                    "# baths", "#baths", "number of bathrooms", "ba"),
            avoid=("full", "half", "three", "quarter", "3/4", "1/2", "partial", "master", "description", "desc",
                   "room", "level", "dimension", "dimensions", "main", "upper", "lower"),
        ),
        ColumnNames(
            "square_feet", "integer",
            reso=("LivingArea", "AboveGradeFinishedArea", "BuildingAreaTotal"),
            standard=("SqFt", "SquareFeet", "SquareFootage", "LivingSqFt", "TotalSqFt", "ApproxSqFt", "SqFtLiving",
                      "ApproxLivingArea", "SqFtTotal", "LivingAreaSqFt", "Sqft"),
            labels=("living area", "sqft", "sq ft", "square feet", "square footage", "total sqft", "approx sqft",
                    "sqft liv area", "approx living area", "living sqft", "heated sqft", "total square feet",
                    "approximate square feet", "sqft living area", "living area sqft"),
            avoid=("lot", "basement", "garage", "guest", "floor", "1st", "2nd", "3rd", "source", "per", "price",
                   "cost", "$", "acres", "land", "porch", "patio", "deck", "mp", "unfinished", "below", "measure"),
        ),
        ColumnNames(
            "year_built", "integer",
            reso=("YearBuilt",),
            standard=("YearBuilt", "YrBuilt", "YearBlt", "BuiltYear", "YearConstructed"),
            labels=("year built", "yr built", "year constructed", "built"),
            avoid=("description", "desc", "source", "effective", "remodel", "remodeled", "renovated", "details",
                   "range"),
        ),
        ColumnNames(
            "status", "status",
            reso=("StandardStatus", "MlsStatus"),
            standard=("ListingStatus", "Status", "ListStatus", "MLSStatus", "PropertyStatus"),
            labels=("status", "listing status", "list status", "mls status", "property status", "standard status"),
            avoid=("change", "date", "type", "previous", "prior", "contingent", "board", "tax", "short", "occupancy",
                   "reason", "internet", "display", "marital", "legal", "approval"),
        ),
        ColumnNames(
            "description", "text",
            reso=("PublicRemarks",),
            standard=("Remarks", "PublicRemarks", "MarketingRemarks", "InternetRemarks", "PropertyDescription",
                      "Description"),
            labels=("public remarks", "remarks", "internet remarks", "marketing remarks", "property description",
                    "description", "public description", "listing remarks", "consumer remarks"),
            avoid=(*_PARTY, "private", "confidential", "directions", "semi", "contingent", "garage", "room",
                   "financing", "sold", "legal", "bonus", "instructions", "internal", "syndication", "supplement"),
        ),
        ColumnNames(
            "photo_urls", "urls",
            reso=(),
            standard=("Photos", "PhotoURLs", "PhotoUrls", "PhotoURL", "PhotoUrl", "ImageURLs", "Images", "MediaURLs",
                      "PictureURLs", "PhotoLinks", "PhotoLinksList"),
            labels=("photos", "photo urls", "photo url", "image urls", "picture urls", "media urls", "photo links",
                    "image links"),
            avoid=("count", "timestamp", "date", "modified", "number", "total", "instructions", "changed"),
        ),
    ]
}


@dataclass(frozen=True)
class AddressPart:
    role: str
    standard: tuple[str, ...]
    labels: tuple[str, ...]
    prefix: str = ""


# Street address components, in the order they are joined.
ADDRESS_PARTS: tuple[AddressPart, ...] = (
    AddressPart("number", ("StreetNumber", "StreetNum", "HouseNumber", "StNum", "StreetNo", "StreetNumberNumeric"),
                ("street number", "house number", "house #", "street #", "street no", "street num")),
    AddressPart("direction", ("StreetDirPrefix", "StreetDirection", "StreetDir", "DirectionPrefix", "StreetDirPfx"),
                ("street direction prefix", "street direction pfx", "street dir prefix", "street direction",
                 "direction prefix", "street dir")),
    AddressPart("name", ("StreetName", "StName"), ("street name",)),
    AddressPart("suffix", ("StreetSuffix", "StreetType", "StreetSfx"), ("street suffix", "street type", "street sfx")),
    AddressPart("direction_suffix", ("StreetDirSuffix", "StreetDirSfx", "DirectionSuffix"),
                ("street direction suffix", "street direction sfx", "street dir suffix", "direction suffix")),
    AddressPart("unit", ("UnitNumber", "Unit", "UnitNo", "ApartmentNumber", "AptNumber"),
                ("unit number", "unit #", "unit", "apartment number", "apt #", "unit no"), prefix="Unit "),
)

# Best first: Matrix's LastChangeTimestamp only moves on status/price changes, MatrixModifiedDT on every edit.
TIMESTAMP_NAMES = ("ModificationTimestamp", "LastModified", "LastModifiedDateTime", "MatrixModifiedDT", "ModifiedDate",
                   "LastUpdate", "LastUpdated", "Timestamp", "LastChangeTimestamp")
TIMESTAMP_LABELS = ("modification timestamp", "modification time stamp", "last modified", "last change timestamp",
                    "timestamp", "last transaction date", "modified", "last update", "last updated", "date modified")
TIMESTAMP_AVOID = ("photo", "picture", "image", "document", "entry", "status", "price", "open", "media", "img",
                   "withdrawal", "contract", "tour")
