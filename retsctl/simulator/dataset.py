"""A seeded, deterministic synthetic MLS: resource ``Property``, classes ``RES`` and ``LND``.

Only four random 64-bit words per listing are stored (plus what ``touch`` overrides); columns are
derived from them on demand. About 35 columns are computed per listing (key, status and its
dates, prices, street address, timestamps); the rest come from *bundles*: pools of pre-generated
value tuples picked by bits of the words. A "home" per class and city (structure, lot, schools,
HOA, remarks), the listing agent and office, co-listing and buyer agents, private remarks, and
three feature groups (interior, exterior, lot and terms). A row is then a few dozen small
computations and one C-level gather, which keeps 200,000 listings in a few MB and renders a
2,500-row page in well under a CPU-second.

Values are COMPACT strings: lookup codes (LookupMulti comma-separated), Boolean ``1``/``0``,
Date ``YYYY-MM-DD``, DateTime ``YYYY-MM-DDTHH:MM:SSZ`` (UTC). Decoded values use LongValues.
"""

from __future__ import annotations

import functools
import hashlib
import random
import threading
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from operator import itemgetter
from typing import Any, NamedTuple

from retsctl.rets.dmql import FieldType

RESOURCE = "Property"
KEY_FIELD = "ListingKey"
TIMESTAMP_FIELD = "ModificationTimestamp"
METADATA_VERSION = "1.00.00042"
METADATA_DATE = "2025-06-01T00:00:00Z"
USER_OFFICE = "OFF001"  # the simulated login's office: it may see its own listings' private fields
_USER_OFFICE_INDEX = 0

_KEY_BASE = 3_100_000_000
_KEY_STEP = 7
_ANCHOR = date(2025, 6, 30)  # the dataset's "today": every generated event happens on or before it
_ANCHOR_ORD = _ANCHOR.toordinal()
_EPOCH_ORD = date(1970, 1, 1).toordinal()
_ANCHOR_TS = (_ANCHOR_ORD - _EPOCH_ORD + 1) * 86400
_CLASS_NAMES = ("RES", "LND")
_LAND_PERCENT = 15
_HOME_PER_CITY = 128
_FEATURE_VARIANTS = 256
_PRIVATE_VARIANTS = 64
_AGENTS = 400


# ---------------------------------------------------------------------------------------------
# Schema model


@dataclass(frozen=True)
class LookupValue:
    value: str
    short_value: str
    long_value: str


@dataclass(frozen=True)
class Lookup:
    name: str
    visible_name: str
    values: tuple[LookupValue, ...]

    def long_values(self) -> dict[str, str]:
        return {v.value: v.long_value for v in self.values}


@dataclass(frozen=True, eq=False)
class FieldDef:
    """One METADATA-TABLE row and where its value comes from.

    ``source`` is ``"listing"`` for columns computed per listing (``Dataset._derive``), or the name
    of the bundle (see ``BUNDLES``) whose pre-generated value tuples hold the column.
    """

    entry_id: int
    system_name: str
    standard_name: str
    long_name: str
    data_type: str
    max_length: int
    interpretation: str = ""
    lookup_name: str = ""
    precision: str = ""
    units: str = ""
    searchable: bool = True
    classes: str = "RL"  # R = RES, L = LND
    source: str = "listing"
    variant: Callable[[random.Random], str] | None = None  # for feature-group bundles
    restricted: bool = False  # withheld unless the listing belongs to USER_OFFICE
    in_key_index: bool = False

    @property
    def db_name(self) -> str:
        return self.system_name[:10]

    @property
    def short_name(self) -> str:
        return self.long_name if len(self.long_name) <= 24 else self.long_name[:24]

    @property
    def is_lookup(self) -> bool:
        return self.interpretation.startswith("Lookup")

    @property
    def needs_escape(self) -> bool:
        return self.data_type == "Character" and not self.is_lookup


@dataclass(frozen=True)
class ClassDef:
    name: str
    standard_name: str
    visible_name: str
    description: str
    code: str  # "R" or "L": which FieldDef.classes it takes
    fields: tuple[FieldDef, ...]


def _lookup(name: str, visible: str, rows: str) -> Lookup:
    """A lookup from ``CODE|Short|Long Value`` lines."""
    values = []
    for line in rows.strip().splitlines():
        code, short, long = (part.strip() for part in line.split("|"))
        values.append(LookupValue(code, short, long))
    return Lookup(name, visible, tuple(values))


LOOKUPS: dict[str, Lookup] = {
    lookup.name: lookup
    for lookup in [
        _lookup("ListingStatus", "Listing Status", """
            A|ACT|Active
            C|AUC|Active Under Contract
            P|PND|Pending
            S|CLS|Closed
            E|EXP|Expired
            W|WDN|Withdrawn
            X|CNL|Canceled
            CS|CSN|Coming Soon
            H|HLD|Hold
            I|INC|Incomplete
            D|DEL|Delete"""),
        _lookup("PropertyType", "Property Type", """
            RESI|Res|Residential
            LAND|Land|Land"""),
        _lookup("PropertySubType", "Property Sub Type", """
            SFR|SFR|Single Family Residence
            CONDO|Condo|Condominium
            TWNHS|Town|Townhouse
            MANUF|Manuf|Manufactured Home
            DUPLX|Duplex|Duplex
            CABIN|Cabin|Cabin
            LOT|Lot|Residential Lot
            UNIMP|Unimp|Unimproved Land
            FARM|Farm|Farm
            RANCH|Ranch|Ranch"""),
        _lookup("StateOrProvince", "State", """
            CO|CO|Colorado
            NM|NM|New Mexico"""),
        _lookup("County", "County", """
            DEN|Denver|Denver
            ARA|Arapahoe|Arapahoe
            BOU|Boulder|Boulder
            LAR|Larimer|Larimer
            ELP|El Paso|El Paso
            PUE|Pueblo|Pueblo
            FRE|Fremont|Fremont
            MES|Mesa|Mesa
            LAP|La Plata|La Plata
            PIT|Pitkin|Pitkin
            EAG|Eagle|Eagle
            JEF|Jefferson|Jefferson
            SFE|Santa Fe|Santa Fe
            RIO|Rio Arriba|Rio Arriba
            BER|Bernalillo|Bernalillo
            TAO|Taos|Taos
            LOS|Los Alamos|Los Alamos
            DAN|Doña Ana|Doña Ana
            SAN|Sandoval|Sandoval"""),
        _lookup("StreetDirection", "Street Direction", """
            N|N|North
            S|S|South
            E|E|East
            W|W|West
            NE|NE|Northeast
            NW|NW|Northwest
            SE|SE|Southeast
            SW|SW|Southwest"""),
        _lookup("Appliances", "Appliances", """
            DW|DW|Dishwasher
            DISP|Disp|Disposal
            DRY|Dryer|Dryer
            WASH|Washer|Washer
            MW|MW|Microwave
            GRNG|GasRng|Gas Range
            ERNG|ElecRng|Electric Range
            REF|Refrig|Refrigerator
            FRZR|Frzr|Freezer
            WINE|Wine|Wine Refrigerator
            DOVN|DblOvn|Double Oven
            CKTP|Cktp|Cooktop
            HOOD|Hood|Range Hood
            TRSH|Trash|Trash Compactor
            TWH|Tankless|Tankless Water Heater
            SOFT|Softnr|Water Softener
            ICE|IceMkr|Ice Maker"""),
        _lookup("InteriorFeatures", "Interior Features", """
            CFAN|CeilFan|Ceiling Fan(s)
            VAULT|Vaulted|Vaulted Ceiling(s)
            WIC|WIC|Walk-In Closet(s)
            PNTRY|Pantry|Pantry
            ISLND|Island|Kitchen Island
            GRAN|Granite|Granite Counters
            QRTZ|Quartz|Quartz Counters
            WBAR|WetBar|Wet Bar
            SKY|Skylt|Skylight(s)
            OPEN|Open|Open Floorplan
            SMART|Smart|Smart Home
            CROWN|Crown|Crown Molding
            BUILT|BuiltIn|Built-in Features
            EATIN|EatIn|Eat-in Kitchen & Breakfast Nook
            ELEV|Elev|Elevator
            SAUNA|Sauna|Sauna
            HIGH|HighCl|High Ceilings
            STOR|Storage|Storage
            KIVA|Kiva|Kiva Fireplace & Nichos
            BEAM|Beams|Exposed Beams (Vigas)
            DUAL|DualVan|Double Vanity"""),
        _lookup("ExteriorFeatures", "Exterior Features", """
            BBQ|BBQ|Built-in Barbecue
            FIRE|FirePit|Fire Pit
            GRDN|Garden|Garden
            LIGHT|Lights|Lighting
            KITCH|OutKit|Outdoor Kitchen
            PLAY|Play|Playground
            RAIN|Gutter|Rain Gutters
            SPRK|Sprink|Sprinkler/Irrigation
            COURT|Court|Courtyard
            PRIV|Private|Private Yard
            DOG|DogRun|Dog Run"""),
        _lookup("Heating", "Heating", """
            FA|ForcedAir|Forced Air
            RAD|Radiant|Radiant Floor
            BB|Baseboard|Baseboard
            HP|HeatPump|Heat Pump
            FP|Fireplace|Fireplace(s)
            SOL|Solar|Solar
            GEO|Geotherm|Geothermal
            PROP|Propane|Propane
            NGAS|NatGas|Natural Gas
            WOOD|WoodStv|Wood Stove"""),
        _lookup("Cooling", "Cooling", """
            CA|Central|Central Air
            EVAP|Evap|Evaporative Cooling
            MINI|Ductless|Ductless Mini-Split
            WIN|Window|Window Unit(s)
            CFAN|CeilFan|Ceiling Fan(s)
            ATTIC|AtticFan|Attic Fan
            NONE|None|None"""),
        _lookup("Flooring", "Flooring", """
            HW|Hardwd|Hardwood
            CARP|Carpet|Carpet
            TILE|Tile|Tile
            LVP|LVP|Luxury Vinyl
            LAM|Lamnt|Laminate
            CONC|Concrete|Concrete
            STONE|Stone|Stone
            BRICK|Brick|Brick
            BAMB|Bamboo|Bamboo
            SALT|Saltillo|Saltillo Tile"""),
        _lookup("Roof", "Roof", """
            ASPH|Asphalt|Asphalt
            COMP|Comp|Composition
            METAL|Metal|Metal
            TILE|Tile|Clay Tile
            SLATE|Slate|Slate
            FLAT|Flat|Flat
            SHAKE|Shake|Wood Shake
            TPO|TPO|TPO/Membrane"""),
        _lookup("ConstructionMaterials", "Construction Materials", """
            FRAME|Frame|Frame
            BRICK|Brick|Brick
            STUCCO|Stucco|Stucco
            STONE|Stone|Stone
            ADOBE|Adobe|Adobe
            LOG|Log|Log
            FIBER|FiberCem|Fiber Cement
            VINYL|Vinyl|Vinyl Siding
            WOOD|Wood|Wood Siding
            SIPS|SIPs|Structural Insulated Panel"""),
        _lookup("FoundationDetails", "Foundation", """
            SLAB|Slab|Slab
            CRAWL|Crawl|Crawl Space
            BSMT|Bsmt|Basement
            PIER|Pier|Pillar/Post/Pier"""),
        _lookup("Basement", "Basement", """
            FIN|Fin|Finished
            UNF|Unfin|Unfinished
            PART|Partial|Partial
            WALK|WalkOut|Walk-Out Access
            DAY|Daylight|Daylight
            NONE|None|None"""),
        _lookup("ParkingFeatures", "Parking Features", """
            ATT|AttGar|Attached Garage
            DET|DetGar|Detached Garage
            DRIVE|Drive|Driveway
            RV|RV|RV Access/Parking
            STR|Street|On Street
            CPORT|Carport|Carport
            OVER|Oversz|Oversized
            EV|EV|Electric Vehicle Charging Station(s)
            TANDEM|Tandem|Tandem"""),
        _lookup("PatioAndPorchFeatures", "Patio And Porch", """
            COV|Covered|Covered
            DECK|Deck|Deck
            FRONT|Front|Front Porch
            PATIO|Patio|Patio
            SCRN|Screen|Screened
            WRAP|Wrap|Wrap Around
            PORTAL|Portal|Portal"""),
        _lookup("PoolFeatures", "Pool Features", """
            INGR|InGrnd|In Ground
            ABOVE|Above|Above Ground
            HEAT|Heated|Heated
            SALT|SaltWtr|Salt Water
            COMM|Commnty|Community
            NONE|None|None"""),
        _lookup("Fencing", "Fencing", """
            FULL|Full|Full
            PART|Partial|Partial
            PRIV|Privacy|Privacy
            WOOD|Wood|Wood
            CHAIN|Chain|Chain Link
            VINYL|Vinyl|Vinyl
            IRON|Iron|Wrought Iron
            COYOTE|Coyote|Coyote Fence
            NONE|None|None"""),
        _lookup("LotFeatures", "Lot Features", """
            CUL|CulDSac|Cul-De-Sac
            CORN|Corner|Corner Lot
            LEVEL|Level|Level
            SLOPE|Sloped|Sloped
            WOOD|Wooded|Wooded
            LAND|Landsc|Landscaped
            XERI|Xeri|Xeriscape
            GRNBT|Grnblt|Greenbelt
            OPEN|OpenSp|Backs to Open Space
            PRIV|Private|Private
            ACEQ|Acequia|Acequia Rights"""),
        _lookup("View", "View", """
            MTN|Mtn|Mountain(s)
            CITY|City|City
            CANY|Canyon|Canyon
            VALL|Valley|Valley
            LAKE|Lake|Lake
            GOLF|Golf|Golf Course
            SUNS|Sunset|Sunset
            NONE|None|None"""),
        _lookup("WaterSource", "Water Source", """
            PUB|Public|Public
            WELL|Well|Private Well
            SHWL|Shared|Shared Well
            CIST|Cistern|Cistern
            COOP|Co-op|Water Co-op"""),
        _lookup("Sewer", "Sewer", """
            PUB|Public|Public Sewer
            SEPT|Septic|Septic Tank
            ALT|AltSys|Alternative Septic
            NONE|None|None"""),
        _lookup("Utilities", "Utilities", """
            ELEC|Elec|Electricity Connected
            NGAS|Gas|Natural Gas Available
            PROP|Propane|Propane
            CABLE|Cable|Cable Available
            FIBER|Fiber|Fiber Optics
            PHONE|Phone|Phone Available
            WTR|Water|Water Connected
            SEW|Sewer|Sewer Connected
            UNDG|Undgrnd|Underground Utilities"""),
        _lookup("CommunityFeatures", "Community Features", """
            CLUB|Club|Clubhouse
            FIT|Fitness|Fitness Center
            GOLF|Golf|Golf
            PARK|Park|Park
            PLAY|Play|Playground
            POOL|Pool|Pool
            TENN|Tennis|Tennis Court(s)
            TRAIL|Trails|Trail(s)
            GATED|Gated|Gated
            SIDE|Sidewlk|Sidewalks"""),
        _lookup("SecurityFeatures", "Security Features", """
            ALARM|Alarm|Security System
            CAM|Cameras|Security Cameras
            SMOKE|Smoke|Smoke Detector(s)
            CO|CO|Carbon Monoxide Detector(s)
            GATE|Gated|Gated Community
            DBOLT|Deadbolt|Deadbolts
            SPRK|FireSpr|Fire Sprinkler System"""),
        _lookup("WindowFeatures", "Window Features", """
            DBL|DblPane|Double Pane Windows
            BLIND|Blinds|Blinds
            BAY|Bay|Bay Window(s)
            SCRN|Screens|Screens
            SHUT|Shutters|Shutters
            LOWE|LowE|Low-Emissivity Windows"""),
        _lookup("LaundryFeatures", "Laundry Features", """
            UNIT|InUnit|In Unit
            GAR|Garage|In Garage
            ROOM|Room|Laundry Room
            HOOK|Hookup|Washer Hookup
            UPPER|Upper|Upper Level
            MAIN|Main|Main Level"""),
        _lookup("FireplaceFeatures", "Fireplace Features", """
            GAS|Gas|Gas
            WOOD|Wood|Wood Burning
            LR|LivRm|Living Room
            FAM|FamRm|Family Room
            PRIM|Primary|Primary Bedroom
            PELLT|Pellet|Pellet Stove
            KIVA|Kiva|Kiva
            OUT|Outdoor|Outside"""),
        _lookup("Electric", "Electric", """
            A100|100A|100 Amp Service
            A200|200A|200 Amp Service
            V220|220V|220 Volts
            PVOWN|PVOwn|Photovoltaics Seller Owned
            PVLSE|PVLease|Photovoltaics Third-Party Owned"""),
        _lookup("GreenEnergyEfficient", "Green Energy Efficient", """
            APPL|Appl|Appliances
            INSUL|Insul|Insulation
            LIGHT|Light|Lighting
            HVAC|HVAC|HVAC
            WIN|Windows|Windows
            WH|WtrHtr|Water Heater"""),
        _lookup("AccessibilityFeatures", "Accessibility Features", """
            GRAB|Grab|Grab Bars
            DOOR|Doors|Accessible Doors
            RAMP|Ramp|Accessible Approach with Ramp
            NOSTP|NoSteps|No Interior Steps
            AELEV|Elev|Accessible Elevator Installed"""),
        _lookup("ArchitecturalStyle", "Architectural Style", """
            RANCH|Ranch|Ranch
            CONT|Contemp|Contemporary
            CRAFT|Craftsman|Craftsman
            VICT|Victorian|Victorian
            PUEB|Pueblo|Pueblo Revival
            TERR|Territ|Territorial
            COL|Colonial|Colonial
            MOD|Modern|Modern
            TUDOR|Tudor|Tudor
            BUNG|Bungalow|Bungalow
            MTN|MtnCont|Mountain Contemporary
            FARM|Farmhse|Farmhouse"""),
        _lookup("Levels", "Levels", """
            ONE|One|One
            TWO|Two|Two
            THREE|Three|Three Or More
            MULTI|Multi|Multi/Split
            TRI|Tri|Tri-Level"""),
        _lookup("Vegetation", "Vegetation", """
            WOOD|Wooded|Wooded
            GRASS|Grassed|Grassed
            BRUSH|Brush|Brush
            PARTW|PartWood|Partially Wooded
            CLEAR|Cleared|Cleared
            PINON|Pinon|Piñon & Juniper"""),
        _lookup("RoadSurfaceType", "Road Surface", """
            PAVED|Paved|Paved
            GRAVL|Gravel|Gravel
            DIRT|Dirt|Dirt
            CHIP|ChipSeal|Chip And Seal"""),
        _lookup("RoadFrontageType", "Road Frontage", """
            CNTY|County|County Road
            CITY|City|City Street
            PRIV|Private|Private Road
            HWY|Highway|Highway"""),
        _lookup("CurrentUse", "Current Use", """
            RES|Resid|Residential
            AG|Agri|Agricultural
            VAC|Vacant|Vacant
            TIMBR|Timber|Timber
            REC|Recr|Recreational
            PAST|Pasture|Pasture
            DEV|Devel|Development"""),
        _lookup("ListingTerms", "Listing Terms", """
            CASH|Cash|Cash
            CONV|Conv|Conventional
            FHA|FHA|FHA
            VA|VA|VA Loan
            OWC|OWC|Owner Will Carry
            X1031|1031|1031 Exchange
            LPUR|LsePur|Lease Purchase"""),
        _lookup("SpecialListingConditions", "Special Listing Conditions", """
            STD|Std|Standard
            SHORT|Short|Short Sale
            REO|REO|Real Estate Owned
            AUCT|Auction|Auction
            PROB|Probate|Probate Listing
            NOD|NOD|Notice Of Default"""),
        _lookup("Disclosures", "Disclosures", """
            SELL|Seller|Seller Disclosure
            LEAD|Lead|Lead Paint
            HOA|HOA|HOA Disclosure
            FLOOD|Flood|Flood Zone
            RADON|Radon|Radon Test
            WATER|WtrRts|Water Rights"""),
        _lookup("Possession", "Possession", """
            CLOSE|Close|Close Of Escrow
            NEG|Negot|Negotiable
            TEN|Tenant|Subject To Tenant Rights
            C30|Close30|Close Plus 30 Days"""),
        _lookup("AssociationFeeFrequency", "Association Fee Frequency", """
            M|Mo|Monthly
            Q|Qtr|Quarterly
            S|Semi|Semi-Annually
            A|Yr|Annually"""),
        _lookup("AssociationAmenities", "Association Amenities", """
            CLUB|Club|Clubhouse
            POOL|Pool|Pool
            SNOW|Snow|Snow Removal
            TRASH|Trash|Trash
            LAND|Landsc|Landscaping
            INS|Insur|Insurance
            GATE|Gate|Gated"""),
        _lookup("LockBoxType", "Lock Box Type", """
            SUPRA|Supra|Supra
            SENTR|Sentri|SentriLock
            COMBO|Combo|Combo
            CALL|CallLO|Call Listing Office
            NONE|None|None"""),
        _lookup("CompensationType", "Compensation Type", """
            PCT|%|Percent
            DOL|$|Dollars"""),
        _lookup("Furnished", "Furnished", """
            FURN|Furn|Furnished
            UNF|Unfurn|Unfurnished
            PART|Partial|Partially
            NEG|Negot|Negotiable"""),
        _lookup("DirectionFaces", "Direction Faces", """
            N|N|North
            S|S|South
            E|E|East
            W|W|West
            NE|NE|Northeast
            NW|NW|Northwest
            SE|SE|Southeast
            SW|SW|Southwest"""),
        _lookup("CommonWalls", "Common Walls", """
            NONE|None|No Common Walls
            ONE|1Wall|1 Common Wall
            TWO|2Walls|2+ Common Walls
            END|EndUnit|End Unit"""),
        _lookup("OtherStructures", "Other Structures", """
            SHED|Shed|Shed(s)
            BARN|Barn|Barn(s)
            GUEST|Guest|Guest House
            WORK|Wkshop|Workshop
            GRNH|Greenhs|Greenhouse
            CASITA|Casita|Casita"""),
        _lookup("Showing", "Showing Requirements", """
            APPT|Appt|Appointment Only
            CALL|CallLA|Call Listing Agent
            LBOX|LockBox|Lockbox
            SVC|Service|Showing Service
            VAC|Vacant|Vacant - Go Direct
            PETS|Pets|Pet(s) on Premises"""),
    ]
}


# ---------------------------------------------------------------------------------------------
# Vocabulary for the derived columns


@dataclass(frozen=True)
class _City:
    name: str
    county: str
    state: str
    zip_base: int
    lat: float
    lon: float
    price_per_sqft: int
    weight: int
    highway: str


_CITIES = (
    _City("Denver", "DEN", "CO", 80202, 39.7392, -104.9903, 420, 20, "I-25"),
    _City("Aurora", "ARA", "CO", 80010, 39.7294, -104.8319, 290, 10, "I-225"),
    _City("Boulder", "BOU", "CO", 80301, 40.0150, -105.2705, 620, 6, "US-36"),
    _City("Fort Collins", "LAR", "CO", 80521, 40.5853, -105.0844, 330, 7, "I-25"),
    _City("Colorado Springs", "ELP", "CO", 80903, 38.8339, -104.8214, 250, 10, "I-25"),
    _City("Pueblo", "PUE", "CO", 81003, 38.2544, -104.6091, 170, 4, "I-25"),
    _City("Cañon City", "FRE", "CO", 81212, 38.4409, -105.2424, 190, 2, "US-50"),
    _City("Grand Junction", "MES", "CO", 81501, 39.0639, -108.5506, 230, 3, "I-70"),
    _City("Durango", "LAP", "CO", 81301, 37.2753, -107.8801, 380, 2, "US-550"),
    _City("Aspen", "PIT", "CO", 81611, 39.1911, -106.8175, 1800, 1, "CO-82"),
    _City("Vail", "EAG", "CO", 81657, 39.6403, -106.3742, 1200, 1, "I-70"),
    _City("Lakewood", "JEF", "CO", 80226, 39.7047, -105.0814, 350, 5, "US-6"),
    _City("Littleton", "ARA", "CO", 80120, 39.6133, -105.0166, 360, 3, "C-470"),
    _City("Santa Fe", "SFE", "NM", 87501, 35.6870, -105.9378, 380, 4, "I-25"),
    _City("Española", "RIO", "NM", 87532, 35.9911, -106.0806, 170, 1, "US-84"),
    _City("Albuquerque", "BER", "NM", 87102, 35.0844, -106.6504, 210, 10, "I-40"),
    _City("Taos", "TAO", "NM", 87571, 36.4072, -105.5731, 300, 1, "NM-68"),
    _City("Los Alamos", "LOS", "NM", 87544, 35.8800, -106.3031, 280, 1, "NM-502"),
    _City("Las Cruces", "DAN", "NM", 88001, 32.3199, -106.7637, 180, 3, "I-10"),
    _City("Rio Rancho", "SAN", "NM", 87124, 35.2328, -106.6630, 200, 3, "US-550"),
)

_STREETS = (
    "Aspen", "Cottonwood", "Piñon", "Juniper", "Blue Spruce", "Ponderosa", "Sandia", "Sangre de Cristo",
    "Acequia Madre", "Cerro Gordo", "Agua Fría", "Alameda", "Arapahoe", "Cherokee", "Colfax", "Columbine",
    "Larkspur", "Mesa Verde", "Red Rock", "Pikes Peak", "Mountain View", "Sunset", "Canyon", "Prairie",
    "Meadowlark", "Elk Ridge", "Bear Creek", "Clear Creek", "Wildflower", "Yucca", "Chamisa", "Sagebrush",
    "Buffalo Grass", "Río Grande", "Montaña", "Lomas", "Alta Vista", "Tramway", "Sierra", "Eldorado",
    "Flagstaff", "Table Mesa", "Baseline", "Broadway", "Lincoln", "Washington", "Franklin", "Jefferson",
    "Maple", "Oak", "Elm", "Pine", "Cedar", "Willow", "Birch", "Hickory", "Walnut", "Chestnut",
)
_SUFFIXES = ("St", "Ave", "Rd", "Dr", "Ln", "Ct", "Way", "Blvd", "Pl", "Trl", "Cir", "Loop")
_SUBDIVISIONS = (
    "Cherry Creek", "Highlands Ranch", "Stapleton", "Eldorado Springs", "Las Campanas", "Tesuque Hills",
    "Vista del Norte", "Piñon Hills", "Aspen Meadows", "Red Hawk", "Willow Bend", "Sun Valley",
    "Cañoncito", "Four Hills", "High Desert", "Mesa del Sol", "Old Town", "Country Club", "Pine Ridge",
    "Juniper Hills", "Quail Run", "Eagle Crest", "Bear Valley", "Foxfield", "Prairie Trails",
)
_FIRST_NAMES = (
    "José", "María", "Zoë", "Renée", "Björn", "Chloé", "Ana", "Luis", "Emily", "Michael", "Sarah", "David",
    "Jennifer", "Robert", "Jessica", "William", "Ashley", "James", "Amanda", "Daniel", "Sofía", "Mateo",
    "Olivia", "Liam", "Noah", "Emma", "Ava", "Ethan", "Isabella", "Lucas", "Mia", "Benjamin", "Harper",
    "Elijah", "Amelia", "Jürgen", "François", "Siobhán", "Dolores", "Ramón",
)
_LAST_NAMES = (
    "García", "Martínez", "Smith", "Johnson", "O'Brien", "Núñez", "Müller", "Nguyễn", "Williams", "Brown",
    "Jones", "Miller", "Davis", "Rodríguez", "Hernández", "López", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Pérez", "Thompson", "White", "Harris",
    "Sánchez", "Clark", "Ramírez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Peña", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera",
)
_OFFICES = (
    "Mountain & Mesa Realty", "Peak Properties, LLC", "Front Range Homes", "Rio Grande Real Estate",
    "Sangre de Cristo Realty", "Summit Brokers", "Cañon Country Realty", "High Desert Home Co.",
    "Mile High Living", "Foothills Realty Group", "Adobe & Pine Real Estate", "Blue Sky Brokerage",
    "Continental Divide Realty", "Red Rocks Real Estate", "Turquoise Trail Properties", "Mesa Verde Realty",
    "Aspen Leaf Realty", "Pikes Peak Partners", "Sandia Crest Realty", "Pueblo Heritage Homes",
    "Rocky Mountain Realty Inc.", "Land & Ranch Specialists", "Crestone Peak Realty", "Desert Bloom Realty",
    "Four Corners Real Estate", "Riverside Realty", "Canyon Creek Brokers", "Timberline Realty",
    "Arroyo Realty", "Golden Aspen Realty", "Hearth & Home Realty", "Vista Grande Realty",
    "Silver Sage Realty", "Trailhead Real Estate", "Cottonwood Realty", "Copper Mountain Realty",
    "North Star Brokers", "El Dorado Realty", "Santa Fe Trail Realty", "Highline Realty",
)
_SCHOOL_NAMES = (
    "Aspen", "Bear Creek", "Carson", "Columbine", "Desert Ridge", "Eagle Peak", "Franklin", "Gonzales",
    "Highland", "Juniper", "Kit Carson", "La Mesa", "Mountain View", "Piñon", "Red Rock", "Sierra Vista",
    "Sunset", "Valle Verde", "Willow Creek", "Zia",
)

_OPENINGS = (
    "Welcome home to this {style} gem in the heart of {subdivision}!",
    "Rarely available {beds}-bedroom retreat on a quiet street in {city}.",
    "Priced to sell & move-in ready — don't miss this one!",
    "Stunning {style} home with sweeping views of the {view}.",
    "Charming café-style kitchen opens to a sun-drenched great room.",
    'Sellers call it "the best block in {city}" and we agree.',
    "Light, bright and beautifully updated {beds} bed / {baths} bath home.",
    "Tucked away on a {acres}-acre lot with mature trees and total privacy.",
)
_MIDDLES = (
    "The updated kitchen features quartz counters, a large island and stainless appliances.",
    "Primary suite offers a walk-in closet & spa-like bath with dual vanities.",
    "Hardwood floors, vaulted ceilings and abundant natural light throughout.",
    "Enjoy evenings on the covered patio — perfect for entertaining 🌄.",
    "Less than 5 minutes to trails, shops & the farmers' market.",
    "The lot is < 1 mile from the river & miles of open space.",
    "Piñon-scented mornings, adobe walls and a kiva fireplace in the living room.",
    "Über-efficient solar panels keep utility bills remarkably low.",
    "Jalapeño and tomato beds, fruit trees and drip irrigation fill the backyard.",
    "Walk to the plaza, galleries and some of the best restaurants in {city}.",
    "Two-car garage with EV charger and a workshop corner.",
    "New roof (2022), new furnace & water heater (2023).",
    "Finished basement with rec room, wet bar and a private guest suite.",
    "Open floor plan with {sqft} sq ft of thoughtfully designed living space.",
    "Mudroom with built-ins, main-floor laundry and a bonus flex room.",
    "Smart-home thermostat, Wi-Fi cameras and a video doorbell are included.",
    "Backyard oasis with a hot tub, fire pit and room for a garden.",
    "Award-winning {school} Elementary is just around the corner.",
    "HOA covers snow removal, trash & exterior maintenance.",
    "Oversized windows frame the {view} from almost every room.",
    "The chef's kitchen has a six-burner gas range, pot filler & a walk-in pantry.",
    "Radiant floor heat keeps every room cozy through the coldest winter nights.",
    "Vigas, latilla ceilings and hand-troweled plaster give the home real Southwest soul.",
    "A flexible bonus room works as a home office, gym or playroom.",
    "Professionally landscaped with drought-tolerant plants and a drip system on timers.",
    "Sellers have loved this home for 22 years and it shows — pride of ownership throughout.",
    "Walk-out lower level opens to a flagstone patio and a quiet greenbelt.",
    "Minutes to light rail, the airport and downtown; ski areas within a two-hour drive.",
    "The {sqft} sq ft layout puts the primary suite on the main level, away from guest rooms.",
    "Fresh interior paint, new LVP flooring and brand-new carpet in all {beds} bedrooms.",
)
_LAND_MIDDLES = (
    "Build your dream home on {acres} acres with sweeping views of the {view}.",
    "Power at the lot line; shared well agreement in place.",
    "Horses allowed & no HOA!",
    "Gently sloping terrain dotted with piñon and juniper.",
    "Survey, perc test and soils report are available.",
    "Minutes to {city} yet feels a world away.",
    "Seasonal arroyo and an old stone corral add character.",
    "Paved road access < 1/4 mile from the highway.",
    "Several level building sites with mountain & valley views from each.",
    "Fenced on three sides with a working stock tank and loafing shed.",
    "Dark skies here are perfect for stargazing — no streetlights for miles.",
    "Owner financing available with 20% down; ask about terms.",
    "Electric and fiber internet run along the county road frontage.",
    "Adjoins thousands of acres of national forest for hiking & hunting.",
    "Covenants allow a guest house, barn and home-based business.",
    "Irrigation ditch rights convey: water your garden, orchard or hay field.",
)
_CLOSINGS = (
    "Schedule your private showing today!",
    "Welcome home ✨",
    "Seller is offering a 2-1 rate buydown with an acceptable offer.",
    "Buyer to verify schools & square footage.",
    "Open house Saturday 1–3 pm. ¡Bienvenidos!",
    "Don't wait — homes like this go fast.",
)
_PRIVATE = (
    "Call {agent} at {phone} for the gate code. Lockbox on the side door.",
    "Seller prefers a local lender & a 30-day close. Offers due Monday 5 pm.",
    "Please use the latest forms and include proof of funds with all cash offers.",
    "Tenant occupied until 8/31; 24-hour notice required for showings.",
    "Dog in the backyard — please don't let him out! <3",
    "Variable commission: 2.5% if seller's agent procures buyer.",
)

_STREET_PARTS: tuple[tuple[str, str, str, str], ...] = tuple(
    (direction, name, suffix, " ".join(part for part in (direction, name, suffix) if part))
    for direction in ("", "", "", "N", "S", "E", "W", "NE")
    for name in _STREETS
    for suffix in _SUFFIXES
)


# ---------------------------------------------------------------------------------------------
# Weighted tables and text of dates


def _table(pairs: tuple[tuple[Any, int], ...]) -> tuple[Any, ...]:
    """Each item repeated as often as its weight: index it with any random number modulo its length."""
    return tuple(item for item, weight in pairs for _ in range(weight))


_RES_STATUS = _table((("A", 33), ("C", 5), ("P", 8), ("S", 36), ("E", 5), ("W", 4), ("X", 3), ("CS", 2), ("H", 2), ("I", 2)))
_LND_STATUS = _table((("A", 45), ("C", 3), ("P", 5), ("S", 22), ("E", 12), ("W", 6), ("X", 4), ("CS", 1), ("H", 1), ("I", 1)))
_RES_SUBTYPES = _table((("SFR", 62), ("CONDO", 14), ("TWNHS", 12), ("MANUF", 5), ("DUPLX", 4), ("CABIN", 3)))
_LND_SUBTYPES = _table((("LOT", 55), ("UNIMP", 25), ("FARM", 10), ("RANCH", 10)))
_CITY_TABLE = _table(tuple((n, city.weight) for n, city in enumerate(_CITIES)))
_ACTIVE_LIKE = frozenset({"A", "C", "P", "CS", "H", "I"})
_UNDER_CONTRACT = frozenset({"C", "P", "S"})
_OFF_MARKET = frozenset({"E", "W", "X"})
_ATTACHED = frozenset({"CONDO", "TWNHS"})

# Every generated date falls in this window; text for it is precomputed (touch() goes beyond).
_FIRST_ORD = _ANCHOR_ORD - 1200
_DATES = tuple(date.fromordinal(o).isoformat() for o in range(_FIRST_ORD, _ANCHOR_ORD + 200))
_MINUTES = tuple(f"T{m // 60:02d}:{m % 60:02d}:" for m in range(1440))
_SECONDS = tuple(f"{s:02d}Z" for s in range(60))


def _date_text(ordinal: int) -> str:
    offset = ordinal - _FIRST_ORD
    return _DATES[offset] if 0 <= offset < len(_DATES) else date.fromordinal(ordinal).isoformat()


def _opt_date(ordinal: int) -> str:
    return _date_text(ordinal) if ordinal else ""


def _timestamp_text(ts: int) -> str:
    days, seconds = divmod(ts, 86400)
    return _date_text(days + _EPOCH_ORD) + _MINUTES[seconds // 60] + _SECONDS[seconds % 60]


_FOLD = str.maketrans("áéíóúñüöçèàäëïøåãõâêôễğýčšžÁÉÍÓÚÑÜÖ'", "aeiounuoceaaeioaaoaeoegycszAEIOUNUO ")


def _ascii_slug(text: str) -> str:
    return "".join(ch for ch in text.translate(_FOLD).lower() if ch.isalnum())


# ---------------------------------------------------------------------------------------------
# Bundles: pools of correlated column values


def _agent_first(agent: int) -> str:
    return _FIRST_NAMES[agent % len(_FIRST_NAMES)]


def _agent_last(agent: int) -> str:
    return _LAST_NAMES[(agent * 7 + 3) % len(_LAST_NAMES)]


def _agent_name(agent: int) -> str:
    return f"{_agent_first(agent)} {_agent_last(agent)}"


def _phone(number: int, kind: int) -> str:
    area = ("303", "720", "505", "575", "719", "970")[number % 6]
    return f"({area}) 555-{(number * 13 + kind * 1000) % 10000:04d}"


def _agent_id(agent: int) -> str:
    return f"AG{agent + 1:05d}"


def _office_id(office: int) -> str:
    return f"OFF{office + 1:03d}"


def _make_agent(rng: random.Random, agent: int, class_name: str) -> dict[str, str]:
    office = agent % len(_OFFICES)
    name = _agent_name(agent)
    email_host = _ascii_slug(_OFFICES[office])[:18]
    return {
        "ListAgentKey": str(900000 + agent),
        "ListAgentMlsId": _agent_id(agent),
        "ListAgentFullName": name,
        "ListAgentFirstName": _agent_first(agent),
        "ListAgentLastName": _agent_last(agent),
        "ListAgentEmail": f"{_ascii_slug(_agent_first(agent))}.{_ascii_slug(_agent_last(agent))}@{email_host}.example",
        "ListAgentDirectPhone": _phone(agent, 0),
        "ListOfficeKey": str(700000 + office),
        "ListOfficeMlsId": _office_id(office),
        "ListOfficeName": _OFFICES[office],
        "ListOfficePhone": _phone(office, 2),
        "ShowingContactName": name,
        "ShowingContactPhone": _phone(agent, 3),
    }


def _make_co_agent(rng: random.Random, variant: int, class_name: str) -> dict[str, str]:
    agent = variant - 1  # variant 0 means "no co-listing agent"
    return {
        "CoListAgentFullName": _agent_name(agent) if variant else "",
        "CoListAgentMlsId": _agent_id(agent) if variant else "",
    }


def _make_buyer(rng: random.Random, variant: int, class_name: str) -> dict[str, str]:
    agent = variant - 1  # variant 0 means "no buyer side yet"
    return {
        "BuyerAgentFullName": _agent_name(agent) if variant else "",
        "BuyerAgentMlsId": _agent_id(agent) if variant else "",
        "BuyerOfficeName": _OFFICES[agent % len(_OFFICES)] if variant else "",
    }


def _make_private(rng: random.Random, variant: int, class_name: str) -> dict[str, str]:
    agent = rng.randrange(_AGENTS)
    first, second = rng.sample(_PRIVATE, 2)
    words = {"agent": _agent_name(agent), "phone": _phone(agent, 1)}
    return {
        "PrivateRemarks": f"{first} {second}".format(**words),
        "ShowingInstructions": rng.choice(
            ("Lockbox on the front door; call first. Gate code #4521.", "Appointment only via showing service.",
             "Vacant — go direct. Please turn off lights & lock all doors.", "24-hour notice; tenant occupied.")
        ),
    }


def _remarks(rng: random.Random, words: dict[str, object], land: bool) -> str:
    middles = _LAND_MIDDLES if land else _MIDDLES
    count = rng.randint(8, 12) if land else rng.randint(15, 19)
    sentences = [rng.choice(_OPENINGS), *rng.sample(middles, min(count, len(middles))), rng.choice(_CLOSINGS)]
    return " ".join(sentence.format(**words) for sentence in sentences)


def _make_home(rng: random.Random, variant: int, class_name: str) -> dict[str, str]:
    """Structure, lot, schools, HOA and remarks of one home in one city, all consistent."""
    city = _CITIES[variant // _HOME_PER_CITY]
    land = class_name == "LND"
    subtype = rng.choice(_LND_SUBTYPES if land else _RES_SUBTYPES)
    attached = subtype in _ATTACHED
    beds = rng.randint(1, 3) if attached else rng.randint(2, 5)
    baths_full = max(1, beds - rng.randint(0, 2))
    baths_half, baths_tq = rng.randint(0, 1), rng.randint(0, 1) if beds > 2 else 0
    sqft = 450 + beds * 380 + rng.randint(0, 900)
    stories = 1 if attached and rng.random() < 0.5 else rng.randint(1, 3)
    if land:
        acres = 0.25 * (1 + 9 * rng.random()) ** (1 + 2 * rng.random())  # 0.25 to 250 acres
    else:
        acres = 0.02 + 0.03 * rng.randint(0, 3) if attached else 0.08 + rng.random() ** 3 * 2.5
    hoa = attached or rng.random() < 0.3
    subdivision = rng.choice(_SUBDIVISIONS)
    school = rng.choice(_SCHOOL_NAMES)
    style = rng.choice(LOOKUPS["ArchitecturalStyle"].values)
    words = {
        "style": style.long_value.lower(), "subdivision": subdivision, "city": city.name, "beds": beds,
        "baths": baths_full + baths_half, "acres": f"{acres:.2f}", "sqft": f"{sqft:,}", "school": school,
        "view": rng.choice(("Sangre de Cristos", "Rockies", "Sandias", "Front Range", "city lights", "valley")),
    }
    turn = ("left", "right")
    return {
        "PropertySubType": subtype,
        "City": city.name,
        "StateOrProvince": city.state,
        "CountyOrParish": city.county,
        "Country": "US",
        "SubdivisionName": subdivision,
        "MLSAreaMajor": f"{city.name} - {rng.choice(('North', 'South', 'East', 'West', 'Central'))}",
        "Directions": (
            f"From {city.highway}, take exit {rng.randint(100, 299)} and head "
            f"{rng.choice(('north', 'south', 'east', 'west'))} on {rng.choice(_STREETS)} {rng.choice(_SUFFIXES)}. "
            f"Turn {rng.choice(turn)} at the {rng.choice(('light', 'second stop sign', 'roundabout'))}; "
            f"the {'lot' if land else 'home'} is on the {rng.choice(turn)}."
        ),
        "ElementarySchool": f"{school} Elementary",
        "MiddleOrJuniorSchool": f"{rng.choice(_SCHOOL_NAMES)} Middle",
        "HighSchool": f"{city.name} High",
        "HighSchoolDistrict": f"{city.name} Public Schools",
        "MapCoordinate": f"{rng.randint(1, 60)}-{rng.choice('ABCDEFGH')}",
        "FloodZoneCode": rng.choice(("X", "X", "X", "AE", "A", "X500")),
        "ArchitecturalStyle": style.value,
        "BedroomsTotal": str(beds),
        "BathroomsTotalInteger": str(baths_full + baths_half + baths_tq),
        "BathroomsFull": str(baths_full),
        "BathroomsHalf": str(baths_half),
        "BathroomsThreeQuarter": str(baths_tq),
        "LivingArea": str(sqft),
        "BuildingAreaTotal": str(sqft + rng.randint(0, 400)),
        "YearBuilt": str(1890 + int(135 * rng.random() ** 0.6)),
        "Stories": str(stories),
        "Levels": ("ONE", "TWO", "THREE")[stories - 1],
        "RoomsTotal": str(beds + 3 + rng.randint(0, 3)),
        "MainLevelBedrooms": str(beds if stories == 1 else min(beds, rng.randint(0, 2))),
        "LotSizeAcres": f"{acres:.4f}",
        "LotSizeSquareFeet": str(int(acres * 43560)),
        "LotSizeDimensions": f"{rng.randint(40, 120)} x {rng.randint(90, 240)}",
        "TaxYear": "2024",
        "TaxLegalDescription": f"LOT {rng.randint(1, 40)} BLK {rng.randint(1, 12)} {subdivision.upper()} SUB",
        "AssociationYN": "1" if hoa else "0",
        "AssociationName": f"{subdivision} HOA" if hoa else "",
        "AssociationFee": f"{rng.randint(50, 600)}.00" if hoa else "",
        "AssociationFeeFrequency": rng.choice(("M", "M", "M", "Q", "A")) if hoa else "",
        "PublicRemarks": _remarks(rng, words, land),
    }


def _home_facts(values: Mapping[str, str], variant: int, class_name: str) -> tuple[float, bool]:
    """The price basis and whether the home is attached (a unit number), from its raw values."""
    city = _CITIES[variant // _HOME_PER_CITY]
    if class_name == "LND":
        basis = (25000 + float(values["LotSizeAcres"]) * 9000) * city.price_per_sqft / 300
    else:
        basis = int(values["LivingArea"]) * city.price_per_sqft
    return basis, values["PropertySubType"] in _ATTACHED


@dataclass(frozen=True)
class Bundle:
    """A pool of ``variants`` value tuples for the columns whose ``source`` is ``name``."""

    name: str
    variants: int
    make: Callable[[random.Random, int, str], dict[str, str]] | None = None  # None: per-field variants


BUNDLES: dict[str, Bundle] = {
    bundle.name: bundle
    for bundle in (
        Bundle("home", len(_CITIES) * _HOME_PER_CITY, _make_home),
        Bundle("agent", _AGENTS, _make_agent),
        Bundle("co_agent", _AGENTS + 1, _make_co_agent),
        Bundle("buyer", _AGENTS + 1, _make_buyer),
        Bundle("private", _PRIVATE_VARIANTS, _make_private),
        Bundle("interior", _FEATURE_VARIANTS),
        Bundle("exterior", _FEATURE_VARIANTS),
        Bundle("lot", _FEATURE_VARIANTS),
    )
}


# ---------------------------------------------------------------------------------------------
# Feature value generators


def _multi(lookup: str, low: int, high: int) -> Callable[[random.Random], str]:
    codes = [v.value for v in LOOKUPS[lookup].values if v.value != "NONE"]

    def pick(rng: random.Random) -> str:
        chosen = set(rng.sample(codes, rng.randint(low, min(high, len(codes)))))
        return ",".join(code for code in codes if code in chosen)

    return pick


def _one(lookup: str, blank_chance: float = 0.0) -> Callable[[random.Random], str]:
    codes = [v.value for v in LOOKUPS[lookup].values]
    return lambda rng: "" if rng.random() < blank_chance else rng.choice(codes)


def _yes(chance: float) -> Callable[[random.Random], str]:
    return lambda rng: "1" if rng.random() < chance else "0"


def _int(low: int, high: int) -> Callable[[random.Random], str]:
    return lambda rng: str(rng.randint(low, high))


def _text(*choices: str) -> Callable[[random.Random], str]:
    return lambda rng: rng.choice(choices)


def _time_of_day(first_hour: int, last_hour: int) -> Callable[[random.Random], str]:
    return lambda rng: f"{rng.randint(first_hour, last_hour):02d}:{rng.choice((0, 30)):02d}:00"


# ---------------------------------------------------------------------------------------------
# The field table (METADATA-TABLE order)

_FIELD_ROWS: list[dict[str, Any]] = []


def _field(system: str, long: str, data_type: str, length: int, **extra: Any) -> None:
    standard = extra.pop("standard", system)
    _FIELD_ROWS.append({"system_name": system, "standard_name": standard, "long_name": long,
                        "data_type": data_type, "max_length": length, **extra})


def _lookup_field(system: str, long: str, lookup: str, *, multi: bool = False, **extra: Any) -> None:
    _field(system, long, "Character", 1024 if multi else 50, interpretation="LookupMulti" if multi else "Lookup",
           lookup_name=lookup, **extra)


def _home(system: str, long: str, data_type: str, length: int, **extra: Any) -> None:
    _field(system, long, data_type, length, source="home", **extra)


def _feature(source: str, system: str, long: str, data_type: str, length: int, **extra: Any) -> None:
    _field(system, long, data_type, length, source=source, **extra)


def _feature_lookup(source: str, system: str, lookup: str, low: int, high: int, classes: str = "RL",
                    long: str = "") -> None:
    _lookup_field(system, long or LOOKUPS[lookup].visible_name, lookup, multi=True, source=source, classes=classes,
                  variant=_multi(lookup, low, high))


# Identity, status, prices and dates
_field("ListingKey", "Listing Key", "Character", 20, in_key_index=True)
_field("ListingId", "MLS Number", "Character", 20)
_lookup_field("ListingStatus", "Status", "ListingStatus", standard="StandardStatus")
_lookup_field("PropertyType", "Property Type", "PropertyType")
_lookup_field("PropertySubType", "Property Sub Type", "PropertySubType", source="home")
_field("ListPrice", "List Price", "Int", 12, interpretation="Currency")
_field("OriginalListPrice", "Original List Price", "Int", 12, interpretation="Currency")
_field("PreviousListPrice", "Previous List Price", "Int", 12, interpretation="Currency")
_field("ClosePrice", "Close Price", "Int", 12, interpretation="Currency")
_field("ListingContractDate", "Listing Contract Date", "Date", 10)
_field("OnMarketDate", "On Market Date", "Date", 10)
_field("PurchaseContractDate", "Purchase Contract Date", "Date", 10)
_field("CloseDate", "Close Date", "Date", 10)
_field("OffMarketDate", "Off Market Date", "Date", 10)
_field("ExpirationDate", "Expiration Date", "Date", 10)
_field("ContractStatusChangeDate", "Status Change Date", "Date", 10)
_field("DaysOnMarket", "Days On Market", "Int", 5, interpretation="Number")
_field("CumulativeDaysOnMarket", "Cumulative Days On Market", "Int", 5, interpretation="Number")
# Location
_field("StreetNumber", "Street Number", "Character", 10)
_lookup_field("StreetDirPrefix", "Street Direction Prefix", "StreetDirection")
_field("StreetName", "Street Name", "Character", 50)
_field("StreetSuffix", "Street Suffix", "Character", 10)
_field("UnitNumber", "Unit Number", "Character", 10)
_field("UnparsedAddress", "Full Address", "Character", 120)
_home("City", "City", "Character", 50)
_lookup_field("StateOrProvince", "State", "StateOrProvince", source="home")
_field("PostalCode", "Zip Code", "Character", 10)
_lookup_field("CountyOrParish", "County", "County", source="home")
_home("Country", "Country", "Character", 2)
_home("SubdivisionName", "Subdivision", "Character", 50)
_home("MLSAreaMajor", "MLS Area", "Character", 50)
_field("Latitude", "Latitude", "Decimal", 12, precision="6")
_field("Longitude", "Longitude", "Decimal", 12, precision="6")
_home("Directions", "Directions", "Character", 1024)
_home("ElementarySchool", "Elementary School", "Character", 50)
_home("MiddleOrJuniorSchool", "Middle School", "Character", 50)
_home("HighSchool", "High School", "Character", 50)
_home("HighSchoolDistrict", "School District", "Character", 50)
_home("MapCoordinate", "Map Coordinate", "Character", 10, standard="")
_home("FloodZoneCode", "Flood Zone", "Character", 10, standard="")
# Structure and lot
_lookup_field("ArchitecturalStyle", "Style", "ArchitecturalStyle", classes="R", source="home")
_home("BedroomsTotal", "Bedrooms", "Tiny", 3, interpretation="Number", classes="R")
_home("BathroomsTotalInteger", "Total Bathrooms", "Tiny", 3, interpretation="Number", classes="R")
_home("BathroomsFull", "Full Bathrooms", "Tiny", 3, interpretation="Number", classes="R")
_home("BathroomsHalf", "Half Bathrooms", "Tiny", 3, interpretation="Number", classes="R")
_home("BathroomsThreeQuarter", "Three Quarter Bathrooms", "Tiny", 3, interpretation="Number", classes="R")
_home("LivingArea", "Living Area", "Int", 8, interpretation="Number", units="SqFt", classes="R")
_home("BuildingAreaTotal", "Total Building Area", "Int", 8, interpretation="Number", units="SqFt", classes="R")
_home("YearBuilt", "Year Built", "Small", 4, classes="R")
_home("Stories", "Stories", "Tiny", 2, interpretation="Number", classes="R")
_lookup_field("Levels", "Levels", "Levels", classes="R", source="home")
_home("RoomsTotal", "Total Rooms", "Tiny", 3, interpretation="Number", classes="R")
_home("MainLevelBedrooms", "Main Level Bedrooms", "Tiny", 3, interpretation="Number", classes="R")
_home("LotSizeAcres", "Lot Size (Acres)", "Decimal", 12, precision="4", units="Acres")
_home("LotSizeSquareFeet", "Lot Size (SqFt)", "Int", 10, interpretation="Number", units="SqFt")
_home("LotSizeDimensions", "Lot Dimensions", "Character", 30)
_field("ParcelNumber", "Parcel Number", "Character", 30)
_field("TaxAnnualAmount", "Annual Taxes", "Decimal", 12, precision="2", interpretation="Currency")
_home("TaxYear", "Tax Year", "Small", 4)
_field("TaxAssessedValue", "Assessed Value", "Long", 12, interpretation="Currency")
_home("TaxLegalDescription", "Legal Description", "Character", 255)
_home("AssociationYN", "HOA", "Boolean", 1)
_home("AssociationName", "HOA Name", "Character", 80)
_home("AssociationFee", "HOA Fee", "Decimal", 10, precision="2", interpretation="Currency")
_lookup_field("AssociationFeeFrequency", "HOA Fee Frequency", "AssociationFeeFrequency", source="home")
# People
for _name, _long, _length in (
    ("ListAgentKey", "List Agent Key", 20), ("ListAgentMlsId", "List Agent ID", 20),
    ("ListAgentFullName", "List Agent", 80), ("ListAgentFirstName", "List Agent First Name", 40),
    ("ListAgentLastName", "List Agent Last Name", 40), ("ListAgentEmail", "List Agent Email", 80),
    ("ListAgentDirectPhone", "List Agent Phone", 20), ("ListOfficeKey", "List Office Key", 20),
    ("ListOfficeMlsId", "List Office ID", 20), ("ListOfficeName", "List Office", 80),
    ("ListOfficePhone", "List Office Phone", 20), ("ShowingContactName", "Showing Contact", 80),
    ("ShowingContactPhone", "Showing Phone", 20),
):
    _field(_name, _long, "Character", _length, source="agent")
_field("CoListAgentFullName", "Co-List Agent", "Character", 80, source="co_agent")
_field("CoListAgentMlsId", "Co-List Agent ID", "Character", 20, source="co_agent")
_field("BuyerAgentFullName", "Buyer Agent", "Character", 80, source="buyer")
_field("BuyerAgentMlsId", "Buyer Agent ID", "Character", 20, source="buyer")
_field("BuyerOfficeName", "Buyer Office", "Character", 80, source="buyer")
# Remarks and media
_home("PublicRemarks", "Public Remarks", "Character", 4000)
_field("PrivateRemarks", "Agent Remarks", "Character", 2000, searchable=False, restricted=True, source="private")
_field("ShowingInstructions", "Showing Instructions", "Character", 1000, searchable=False, restricted=True, source="private")
_field("VirtualTourURLUnbranded", "Virtual Tour", "Character", 255)
_field("PhotosCount", "Photo Count", "Small", 3, interpretation="Number")
_field("PhotosChangeTimestamp", "Photos Changed", "DateTime", 24)
_field("OriginalEntryTimestamp", "Entry Date", "DateTime", 24)
_field("StatusChangeTimestamp", "Status Changed", "DateTime", 24)
_field("PriceChangeTimestamp", "Price Changed", "DateTime", 24)
_field("ModificationTimestamp", "Last Modified", "DateTime", 24, in_key_index=True)

# Interior features
_feature_lookup("interior", "Appliances", "Appliances", 3, 9, "R")
_feature_lookup("interior", "InteriorFeatures", "InteriorFeatures", 3, 9, "R")
_feature_lookup("interior", "Flooring", "Flooring", 1, 4, "R")
_feature_lookup("interior", "Heating", "Heating", 1, 3, "R")
_feature_lookup("interior", "Cooling", "Cooling", 1, 3, "R")
_feature_lookup("interior", "FireplaceFeatures", "FireplaceFeatures", 0, 3, "R")
_feature("interior", "FireplacesTotal", "Fireplaces", "Tiny", 2, interpretation="Number", classes="R", variant=_int(0, 3))
_feature_lookup("interior", "LaundryFeatures", "LaundryFeatures", 1, 3, "R", "Laundry")
_feature_lookup("interior", "WindowFeatures", "WindowFeatures", 1, 4, "R")
_feature_lookup("interior", "AccessibilityFeatures", "AccessibilityFeatures", 0, 2, "R")
_feature_lookup("interior", "SecurityFeatures", "SecurityFeatures", 1, 4, "R")
_feature_lookup("interior", "Basement", "Basement", 0, 2, "R")
_lookup_field("Furnished", "Furnished", "Furnished", classes="R", source="interior", variant=_one("Furnished", 0.5))
_feature("interior", "Inclusions", "Inclusions", "Character", 255, classes="R",
         variant=_text("Washer, dryer, refrigerator & window coverings", "All kitchen appliances", "Hot tub & shed",
                       "Furniture negotiable", "Solar panels (owned)", "Wood stove & log holder", ""))
_feature("interior", "Exclusions", "Exclusions", "Character", 255, classes="R",
         variant=_text("Seller's personal property", "Garage freezer", "Dining room chandelier", "Washer & dryer", "", ""))
_feature_lookup("interior", "Electric", "Electric", 1, 2)
_feature_lookup("interior", "GreenEnergyEfficient", "GreenEnergyEfficient", 0, 3, "R", "Green Features")
_feature("interior", "InteriorFeaturesDescription", "Interior Notes", "Character", 500, standard="", classes="R",
         variant=_text("Freshly painted throughout; new carpet in bedrooms.",
                       "Primary bath remodeled 2021 with heated tile floors.",
                       "Original 1950s built-ins lovingly preserved.",
                       "Den could be a 4th bedroom or home office.", ""))
# Exterior and structure features
_feature_lookup("exterior", "ConstructionMaterials", "ConstructionMaterials", 1, 3, "R", "Construction")
_feature_lookup("exterior", "Roof", "Roof", 1, 2, "R")
_feature_lookup("exterior", "FoundationDetails", "FoundationDetails", 1, 2, "R", "Foundation")
_feature_lookup("exterior", "ExteriorFeatures", "ExteriorFeatures", 1, 5, "R")
_feature_lookup("exterior", "PatioAndPorchFeatures", "PatioAndPorchFeatures", 1, 3, "R", "Patio/Porch")
_feature_lookup("exterior", "PoolFeatures", "PoolFeatures", 0, 2, "R")
_feature("exterior", "PoolPrivateYN", "Private Pool", "Boolean", 1, classes="R", variant=_yes(0.12))
_feature_lookup("exterior", "Fencing", "Fencing", 0, 3)
_feature_lookup("exterior", "ParkingFeatures", "ParkingFeatures", 1, 4, "R", "Parking")
_feature("exterior", "GarageSpaces", "Garage Spaces", "Decimal", 4, precision="1", classes="R",
         variant=_text("0.0", "1.0", "2.0", "2.0", "2.5", "3.0", "4.0"))
_feature("exterior", "GarageYN", "Garage Y/N", "Boolean", 1, classes="R", variant=_yes(0.8))
_feature_lookup("exterior", "OtherStructures", "OtherStructures", 0, 2)
_lookup_field("DirectionFaces", "Faces", "DirectionFaces", source="exterior", variant=_one("DirectionFaces", 0.3))
_lookup_field("CommonWalls", "Common Walls", "CommonWalls", classes="R", source="exterior", variant=_one("CommonWalls"))
_feature("exterior", "NewConstructionYN", "New Construction", "Boolean", 1, classes="R", variant=_yes(0.07))
_feature("exterior", "BuilderName", "Builder", "Character", 50, classes="R",
         variant=_text("", "", "", "", "Pulte Homes", "Richmond American", "Homes by Dave Brown", "Sun & Sage Builders"))
_feature("exterior", "ExteriorFeaturesDescription", "Exterior Notes", "Character", 500, standard="", classes="R",
         variant=_text("Low-maintenance xeriscape front & back.", "Flagstone patio with pergola and string lights.",
                       "Mature cottonwoods shade the whole yard.", "RV pad with 50-amp hookup.", ""))
# Lot, utilities, terms and syndication
_feature_lookup("lot", "LotFeatures", "LotFeatures", 1, 4)
_feature_lookup("lot", "View", "View", 0, 3)
_feature("lot", "ViewYN", "View Y/N", "Boolean", 1, variant=_yes(0.55))
_feature("lot", "WaterfrontYN", "Waterfront", "Boolean", 1, variant=_yes(0.03))
_feature_lookup("lot", "WaterSource", "WaterSource", 1, 2, long="Water")
_feature_lookup("lot", "Sewer", "Sewer", 1, 1)
_feature_lookup("lot", "Utilities", "Utilities", 2, 6)
_feature_lookup("lot", "Vegetation", "Vegetation", 0, 2)
_feature_lookup("lot", "RoadSurfaceType", "RoadSurfaceType", 1, 1)
_feature_lookup("lot", "RoadFrontageType", "RoadFrontageType", 1, 2)
_feature_lookup("lot", "CurrentUse", "CurrentUse", 1, 2)
_feature_lookup("lot", "PossibleUse", "CurrentUse", 1, 3, long="Possible Use")
_feature("lot", "Zoning", "Zoning", "Character", 20, variant=_text("R-1", "R-2", "RS-5", "A-1", "PUD", "MU-2", "RR", "AG-35"))
_feature("lot", "ZoningDescription", "Zoning Description", "Character", 80,
         variant=_text("Single-family residential", "Residential / agricultural", "Planned unit development",
                       "Mixed use", "Rural residential"))
_feature_lookup("lot", "ListingTerms", "ListingTerms", 1, 4, long="Terms")
_feature_lookup("lot", "SpecialListingConditions", "SpecialListingConditions", 1, 1)
_feature_lookup("lot", "Disclosures", "Disclosures", 1, 3)
_feature_lookup("lot", "Possession", "Possession", 1, 2)
_feature_lookup("lot", "CommunityFeatures", "CommunityFeatures", 0, 4)
_feature_lookup("lot", "AssociationAmenities", "AssociationAmenities", 0, 4, long="HOA Amenities")
_feature("lot", "SeniorCommunityYN", "Senior Community", "Boolean", 1, classes="R", variant=_yes(0.04))
_feature("lot", "HorseYN", "Horses Allowed", "Boolean", 1, variant=_yes(0.15))
_feature("lot", "HomeWarrantyYN", "Home Warranty", "Boolean", 1, classes="R", variant=_yes(0.3))
_feature_lookup("lot", "LockBoxType", "LockBoxType", 1, 1, long="Lockbox")
_feature_lookup("lot", "ShowingRequirements", "Showing", 1, 3)
_feature("lot", "ShowingStartTime", "Showing Start", "Time", 8, variant=_time_of_day(7, 11))
_feature("lot", "BuyerAgencyCompensation", "Buyer Agent Compensation", "Character", 20,
         variant=_text("2.5", "2.8", "3", "2", "1.5", "5000"))
_lookup_field("BuyerAgencyCompensationType", "Compensation Type", "CompensationType", source="lot",
              variant=_text("PCT", "PCT", "PCT", "DOL"))
_feature("lot", "InternetEntireListingDisplayYN", "Display On Internet", "Boolean", 1, variant=_yes(0.97))
_feature("lot", "InternetAddressDisplayYN", "Display Address", "Boolean", 1, variant=_yes(0.93))
_feature("lot", "IDXParticipationYN", "IDX", "Boolean", 1, variant=_yes(0.95))
_feature("lot", "SyndicateTo", "Syndicate To", "Character", 255,
         variant=_text("Zillow, Trulia, Realtor.com", "Realtor.com", "Homes.com, Realtor.com", "None", ""))
_feature("lot", "ListingVisibility", "Listing Visibility", "Character", 20, standard="",
         variant=_text("Public", "Public", "Public", "Office Exclusive"))
_feature("lot", "TopographyDescription", "Topography", "Character", 255, standard="", classes="L",
         variant=_text("Gently rolling with arroyo", "Level meadow", "Steep, buildable pad cut",
                       "Mesa top with 360° views", "Terraced hillside"))
_feature("lot", "LandLeaseYN", "Land Lease", "Boolean", 1, classes="L", variant=_yes(0.05))
_feature("lot", "NumberOfLots", "Number Of Lots", "Tiny", 3, interpretation="Number", classes="L", variant=_int(1, 4))
_feature("lot", "FrontageLength", "Frontage (ft)", "Int", 6, interpretation="Number", units="Feet", classes="L",
         variant=_int(60, 1200))
_feature("lot", "PercTestYN", "Perc Test Done", "Boolean", 1, classes="L", variant=_yes(0.4))
_feature("lot", "SurveyYN", "Survey Available", "Boolean", 1, classes="L", variant=_yes(0.6))

FIELDS: tuple[FieldDef, ...] = tuple(FieldDef(entry_id=100 + n, **row) for n, row in enumerate(_FIELD_ROWS))


def _class_def(name: str, standard: str, visible: str, description: str, code: str) -> ClassDef:
    return ClassDef(name, standard, visible, description, code, tuple(f for f in FIELDS if code in f.classes))


CLASSES: dict[str, ClassDef] = {
    "RES": _class_def("RES", "ResidentialProperty", "Residential", "Single family, condo and townhouse listings", "R"),
    "LND": _class_def("LND", "LotsAndLand", "Land", "Lots, acreage, farms and ranches", "L"),
}


def _bundle_fields(class_name: str, source: str) -> tuple[FieldDef, ...]:
    return tuple(f for f in CLASSES[class_name].fields if f.source == source)


# (class, SystemName) -> position of a bundle column inside its bundle's value tuples
_POSITION = {
    (name, spec.system_name): position
    for name in CLASSES
    for source in BUNDLES
    for position, spec in enumerate(_bundle_fields(name, source))
}


# ---------------------------------------------------------------------------------------------
# Shaping values for output


def xml_escape(text: str) -> str:
    """Escape text for XML element content (``&``, ``<``, ``>``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class RowShape:
    """How values are presented: lookups decoded or not, XML-escaped or not, and what withheld
    fields show instead of their value (the RestrictedIndicator)."""

    decoded: bool = False
    escaped: bool = False
    restricted: str = ""


def _transform(spec: FieldDef, shape: RowShape) -> Callable[[str], str] | None:
    """What turns a COMPACT value of ``spec`` into its ``shape`` (None: nothing to do)."""
    if spec.is_lookup and shape.decoded:
        long_values = LOOKUPS[spec.lookup_name].long_values()
        if shape.escaped:
            long_values = {code: xml_escape(text) for code, text in long_values.items()}
        if spec.interpretation == "LookupMulti":
            return lambda value: ",".join([long_values.get(code, code) for code in value.split(",")]) if value else ""
        return lambda value: long_values.get(value, value)
    if spec.needs_escape and shape.escaped:
        return xml_escape
    return None




_LISTING_FIELDS = tuple(f.system_name for f in FIELDS if f.source == "listing")
_LISTING_POSITION = {name: n for n, name in enumerate(_LISTING_FIELDS)}
_BUNDLE_ORDER = tuple(BUNDLES)
_BUNDLE_SLOT = {name: n for n, name in enumerate(_BUNDLE_ORDER)}
_AGENT_SLOT = _BUNDLE_SLOT["agent"]

class Timeline(NamedTuple):
    status: str
    listed: int
    contract: int
    close: int
    off_market: int
    changed: int
    entry_ts: int
    mod_ts: int


# Fields a DMQL predicate can read without deriving the whole listing.
_CHEAP_FIELDS: dict[str, Callable[[Dataset, int], str]] = {
    KEY_FIELD: lambda dataset, index: dataset.key_of(index),
    "ListingStatus": lambda dataset, index: dataset._timeline(index).status,
    TIMESTAMP_FIELD: lambda dataset, index: _timestamp_text(dataset._timeline(index).mod_ts),
}

# One listing's derived data: its per-listing values (in _LISTING_FIELDS order) and the variant it
# picked in each bundle (in _BUNDLE_ORDER order).
Derived = tuple[tuple[str, ...], tuple[int, ...]]


Bundles = dict[tuple[str, str], list[tuple[str, ...]]]


@functools.lru_cache(maxsize=4)
def _generate_bundles(seed: int) -> tuple[Bundles, tuple[tuple[tuple[float, bool], ...], ...]]:
    """Every bundle's value tuples per class, and each home's price basis (cached: pure in ``seed``)."""
    bundles: Bundles = {}
    home_facts: list[tuple[tuple[float, bool], ...]] = []
    for class_name in _CLASS_NAMES:
        for bundle in BUNDLES.values():
            specs = _bundle_fields(class_name, bundle.name)
            rng = random.Random(f"{seed}:{class_name}:{bundle.name}")
            rows = []
            facts = []
            for variant in range(bundle.variants):
                if bundle.make is None:
                    values = {spec.system_name: spec.variant(rng) for spec in specs}  # type: ignore[misc]
                else:
                    values = bundle.make(rng, variant, class_name)
                if bundle.name == "home":
                    facts.append(_home_facts(values, variant, class_name))
                rows.append(tuple(values[spec.system_name] for spec in specs))
            bundles[(class_name, bundle.name)] = rows
            if facts:
                home_facts.append(tuple(facts))
    return bundles, tuple(home_facts)


class Record(Mapping[str, str]):
    """One listing's COMPACT values, derived on first read (what DMQL predicates evaluate)."""

    __slots__ = ("_dataset", "_derived", "_index", "_names")

    def __init__(self, dataset: Dataset, index: int, names: Mapping[str, FieldDef]) -> None:
        self._dataset = dataset
        self._index = index
        self._names = names
        self._derived: Derived | None = None

    def __getitem__(self, name: str) -> str:
        spec = self._names[name]
        cheap = _CHEAP_FIELDS.get(spec.system_name)
        if cheap is not None:
            return cheap(self._dataset, self._index)
        if self._derived is None:
            self._derived = self._dataset._derive(self._index)
        return self._dataset._value(self._index, self._derived, spec)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


# ---------------------------------------------------------------------------------------------
# The dataset


class Dataset:
    """``listings`` Property listings generated from ``seed``; deterministic for a given pair.

    Listings are addressed by ListingKey (ascending key order = generation order). ``touch`` and
    ``delete`` change the data and bump ``version``, which callers use to invalidate caches.
    """

    resource = RESOURCE
    key_field = KEY_FIELD
    classes = CLASSES
    lookups = LOOKUPS

    def __init__(self, listings: int = 500, seed: int = 1) -> None:
        rng = random.Random(seed)
        self.seed = seed
        self.size = listings
        self._words = array("Q")  # four random 64-bit words per listing
        self._words.frombytes(rng.randbytes(32 * listings))
        words = self._words
        self._class_codes = bytearray(
            1 if (words[4 * i] ^ words[4 * i + 3]) % 100 < _LAND_PERCENT else 0 for i in range(listings)
        )
        self._members = {name: array("I") for name in _CLASS_NAMES}
        for index, code in enumerate(self._class_codes):
            self._members[_CLASS_NAMES[code]].append(index)
        self._deleted = bytearray(listings)
        self._touched: dict[int, tuple[int, int, int]] = {}  # index -> (mod_ts, price, revision)
        self._last_touch_ts = _ANCHOR_TS
        self._bundles, self._home_facts = _generate_bundles(seed)
        self._views: dict[tuple[str, str, RowShape], list[tuple[str, ...]]] = {}
        self._lock = threading.Lock()
        self.version = 0
        self._by_modified: tuple[int, list[int], list[int]] | None = None  # (version, stamps, indexes)

    def _view(self, class_name: str, source: str, shape: RowShape) -> list[tuple[str, ...]]:
        """A bundle's value tuples decoded/escaped as ``shape`` asks (restriction not applied)."""
        key = (class_name, source, RowShape(shape.decoded, shape.escaped))
        view = self._views.get(key)
        if view is None:
            transforms = [_transform(spec, key[2]) for spec in _bundle_fields(class_name, source)]
            view = [
                tuple([t(v) if t else v for t, v in zip(transforms, row, strict=True)])
                for row in self._bundles[(class_name, source)]
            ]
            self._views[key] = view
        return view

    # -- the per-listing columns --------------------------------------------------------------

    def _timeline(self, index: int) -> Timeline:
        """Status and its dates (as ordinals, 0 when not reached), entry and modification moments."""
        words = self._words
        a, b = words[4 * index], words[4 * index + 1]
        status = (_LND_STATUS if self._class_codes[index] else _RES_STATUS)[a % 100]
        if status in _ACTIVE_LIKE:
            listed = _ANCHOR_ORD - (0 if status == "CS" else (a >> 7) % 240)
        else:
            listed = _ANCHOR_ORD - 30 - (a >> 7) % 1070
        contract = close = off_market = 0
        if status in _UNDER_CONTRACT:
            contract = min(listed + 3 + (a >> 18) % 90, _ANCHOR_ORD)
            if status == "S":
                close = min(contract + 20 + (a >> 25) % 40, _ANCHOR_ORD)
        elif status in _OFF_MARKET:
            off_market = min(listed + 30 + (a >> 31) % 330, _ANCHOR_ORD)
        changed = close or off_market or contract or listed
        entry_ts = (listed - _EPOCH_ORD) * 86400 + (a >> 44) % 86400
        override = self._touched.get(index)
        if override:
            mod_ts = override[0]
        else:
            mod_ts = max((min(changed + (a >> 40) % 15, _ANCHOR_ORD) - _EPOCH_ORD) * 86400 + b % 86400, entry_ts)
        return Timeline(status, listed, contract, close, off_market, changed, entry_ts, mod_ts)

    def _derive(self, index: int) -> Derived:
        """Per-listing values and bundle choices of one listing, from its four random words.

        The values hold only digits, ASCII letters and vocabulary free of ``&<>``, so they never
        need XML escaping.
        """
        words = self._words
        b, c, d = words[4 * index + 1], words[4 * index + 2], words[4 * index + 3]
        land = self._class_codes[index]
        status, listed, contract, close, off_market, changed, entry_ts, mod_ts = self._timeline(index)
        dom = 0 if status == "CS" else (close or off_market or _ANCHOR_ORD) - listed

        city = _CITY_TABLE[(b >> 17) % len(_CITY_TABLE)]
        home = city * _HOME_PER_CITY + (b >> 24) % _HOME_PER_CITY
        agent = (b >> 31) % _AGENTS
        co_agent = 1 + (agent + 1 + (b >> 43) % (_AGENTS - 1)) % _AGENTS if (b >> 40) % 6 == 0 else 0
        buyer = 1 + (b >> 52) % _AGENTS if contract else 0
        basis, attached = self._home_facts[land][home]
        list_price = int(basis * (0.85 + 0.3 * ((d >> 42) & 255) / 256)) // 1000 * 1000
        list_price -= 100 if (d >> 50) % 3 == 0 else 0
        original = list_price + (list_price // 20 // 1000 * 1000 if (d >> 52) % 4 == 0 else 0)
        override = self._touched.get(index)
        price, revision = (override[1], override[2]) if override else (list_price, 0)
        close_price = int(price * (0.94 + 0.1 * ((d >> 54) & 15) / 16)) // 500 * 500

        street = _STREET_PARTS[(c >> 24) % len(_STREET_PARTS)]
        number = str(100 + (c >> 37) % 19900)
        unit = f"{1 + (c >> 52) % 40}{'ABCD'[(c >> 58) % 4]}" if attached else ""
        place = _CITIES[city]
        postal = str(place.zip_base + (c >> 60) % 9)
        photos = 0 if (d >> 32) % 12 == 0 else (1 + (d >> 36) % 8 if land else 3 + (d >> 36) % 38)
        key = str(_KEY_BASE + index * _KEY_STEP)
        values = (
            key,
            ("L" if land else "R") + f"{(index * 7919 + 1_234_567) % 100_000_000:08d}",
            status,
            "LAND" if land else "RESI",
            str(price),
            str(original),
            str(original) if original != price else "",
            str(close_price) if close else "",
            _date_text(listed),
            "" if status == "CS" else _date_text(listed),
            _opt_date(contract),
            _opt_date(close),
            _opt_date(off_market),
            _date_text(listed + 180),
            _date_text(changed),
            str(dom),
            str(dom + (d >> 61) % 3 * 30),
            number,
            street[0],
            street[1],
            street[2],
            unit,
            f"{number} {street[3]} Unit {unit}" if unit else f"{number} {street[3]}",
            postal,
            f"{place.lat + ((d & 0xFFFF) / 65536 - 0.5) * 0.16:.6f}",
            f"{place.lon + (((d >> 16) & 0xFFFF) / 65536 - 0.5) * 0.2:.6f}",
            f"{postal[2:]}-{(c ^ d) % 100000:05d}-{index % 1000:03d}",
            f"{price * (45 + (b >> 3) % 50) / 10000:.2f}",
            str(price * 82 // 100),
            f"https://tours.example.com/{key}" if (d >> 58) % 5 < 2 else "",
            str(photos),
            _timestamp_text(entry_ts + 3600) if photos else "",
            _timestamp_text(entry_ts),
            _timestamp_text(max(entry_ts, (changed - _EPOCH_ORD) * 86400 + 43200)),
            _timestamp_text(mod_ts) if revision or original != price else "",
            _timestamp_text(mod_ts),
        )
        choices = (home, agent, co_agent, buyer, (b >> 58) % _PRIVATE_VARIANTS, c & 255, (c >> 8) & 255, (c >> 16) & 255)
        return values, choices

    def _value(self, index: int, derived: Derived, spec: FieldDef) -> str:
        """One field's COMPACT value ("" when the listing's class lacks the field)."""
        if spec.source == "listing":
            return derived[0][_LISTING_POSITION[spec.system_name]]
        class_name = _CLASS_NAMES[self._class_codes[index]]
        position = _POSITION.get((class_name, spec.system_name))
        if position is None:
            return ""
        return self._bundles[(class_name, spec.source)][derived[1][_BUNDLE_SLOT[spec.source]]][position]

    # -- addressing ---------------------------------------------------------------------------

    def index_of(self, key: str) -> int | None:
        """The internal index of a live listing, or None."""
        if not key.isdigit():
            return None
        offset, remainder = divmod(int(key) - _KEY_BASE, _KEY_STEP)
        if remainder or not 0 <= offset < self.size or self._deleted[offset]:
            return None
        return offset

    def _live_index(self, key: str) -> int:
        index = self.index_of(key)
        if index is None:
            raise KeyError(key)
        return index

    def key_of(self, index: int) -> str:
        return str(_KEY_BASE + index * _KEY_STEP)

    def class_of(self, index: int) -> str:
        return _CLASS_NAMES[self._class_codes[index]]

    def members(self, class_name: str | None = None, among: Iterable[int] | None = None) -> Iterator[int]:
        """Indexes of live listings in ascending key order, of one class or all, optionally only
        those ``among`` some candidate indexes."""
        deleted = self._deleted
        if among is not None:
            code = None if class_name is None else _CLASS_NAMES.index(class_name)
            wanted = sorted(i for i in set(among) if 0 <= i < self.size)
            return (i for i in wanted if not deleted[i] and (code is None or self._class_codes[i] == code))
        source = range(self.size) if class_name is None else self._members[class_name]
        return (i for i in source if not deleted[i])

    def modified_since(self, day: date) -> list[int]:
        """Indexes of listings last modified on ``day`` (UTC) or later, in no particular order.

        An index by modification time, as MLS databases keep one for the incremental query, built
        on first use and again after each change (``version``).
        """
        index = self._by_modified
        version = self.version  # read first: a change made while sorting makes the next call rebuild
        if index is None or index[0] != version:
            pairs = sorted((self._timeline(i).mod_ts, i) for i in range(self.size))
            index = self._by_modified = (version, [ts for ts, _ in pairs], [i for _, i in pairs])
        _version, stamps, indexes = index
        return indexes[bisect_left(stamps, (day.toordinal() - _EPOCH_ORD) * 86400) :]

    def keys(self, class_name: str | None = None) -> list[str]:
        """Live ListingKeys in ascending order, of one class or all."""
        return [self.key_of(i) for i in self.members(class_name)]

    def __len__(self) -> int:
        return self.size - self._deleted.count(1)

    # -- changes ------------------------------------------------------------------------------

    def touch(self, key: str) -> str:
        """Change a listing: cut its price 2% and move its ModificationTimestamp past every other
        one (to now, or one second after the previous touch). Returns the new timestamp."""
        with self._lock:
            index = self._live_index(key)
            values = self._derive(index)[0]
            revision = self._touched[index][2] if index in self._touched else 0
            moment = max(int(time.time()), self._last_touch_ts + 1)
            self._last_touch_ts = moment
            new_price = int(values[_LISTING_POSITION["ListPrice"]]) * 98 // 100 // 100 * 100
            self._touched[index] = (moment, new_price, revision + 1)
            self.version += 1
        return _timestamp_text(moment)

    def delete(self, key: str) -> None:
        """Remove a listing (KeyError when unknown)."""
        with self._lock:
            self._deleted[self._live_index(key)] = 1
            self.version += 1

    # -- fields and values --------------------------------------------------------------------

    def field_names(self, class_name: str, *, standard_names: bool = False) -> dict[str, FieldDef]:
        """The class's fields by SystemName (or StandardName, omitting fields without one)."""
        fields = CLASSES[class_name].fields
        if standard_names:
            return {f.standard_name: f for f in fields if f.standard_name}
        return {f.system_name: f for f in fields}

    def field_types(self, class_name: str, *, standard_names: bool = False) -> dict[str, FieldType]:
        """What DMQL evaluation needs to know of each field, keyed as ``field_names`` is."""
        return {
            name: FieldType(
                spec.data_type,
                spec.interpretation,
                frozenset(v.value for v in LOOKUPS[spec.lookup_name].values) if spec.is_lookup else None,
                spec.searchable,
            )
            for name, spec in self.field_names(class_name, standard_names=standard_names).items()
        }

    def record(self, index: int, names: Mapping[str, FieldDef]) -> Record:
        """A lazily derived COMPACT record of a listing, keyed by ``names``."""
        return Record(self, index, names)

    def row_reader(self, class_name: str, columns: Sequence[FieldDef], shape: RowShape) -> Callable[[int], Sequence[str]]:
        """A function giving the values of ``columns`` (in that order) for a listing index.

        Per-listing values are derived, then shaped only where a lookup needs decoding; bundle
        columns are gathered from the bundles' pre-shaped value tuples.
        """
        wanted = {spec.system_name for spec in columns}
        specs = self.field_names(class_name)
        decoders = [  # per-listing values never need escaping (see _derive): only lookups change
            (n, transform)
            for n, name in enumerate(_LISTING_FIELDS)
            if name in wanted and specs[name].is_lookup and (transform := _transform(specs[name], shape))
        ]
        positions = {name: n for n, name in enumerate(_LISTING_FIELDS)}
        pickers = []
        for source in BUNDLES:
            bundle_specs = _bundle_fields(class_name, source)
            if wanted.isdisjoint(spec.system_name for spec in bundle_specs):
                continue
            positions.update({spec.system_name: len(positions) + n for n, spec in enumerate(bundle_specs)})
            pickers.append(self._bundle_picker(class_name, source, shape, len(bundle_specs)))
        gather = itemgetter(*(positions[spec.system_name] for spec in columns))
        single = len(columns) == 1
        derive = self._derive

        def read(index: int) -> Sequence[str]:
            values, choices = derive(index)
            if decoders:
                shaped = list(values)
                for n, transform in decoders:
                    shaped[n] = transform(shaped[n])
                values = tuple(shaped)
            for pick in pickers:
                values += pick(choices)
            return (gather(values),) if single else gather(values)

        return read

    def _bundle_picker(
        self, class_name: str, source: str, shape: RowShape, width: int
    ) -> Callable[[tuple[int, ...]], tuple[str, ...]]:
        view = self._view(class_name, source, shape)
        slot = _BUNDLE_SLOT[source]
        if source != "private":
            return lambda choices: view[choices[slot]]
        withheld = ((xml_escape(shape.restricted) if shape.escaped else shape.restricted),) * width
        return lambda choices: view[choices[slot]] if choices[_AGENT_SLOT] % len(_OFFICES) == _USER_OFFICE_INDEX else withheld

    def values(self, key: str, *, decoded: bool = False) -> dict[str, str]:
        """Every field of a listing by SystemName, as a client would read it (COMPACT or decoded;
        private fields empty unless the listing belongs to the user's office)."""
        index = self._live_index(key)
        columns = CLASSES[self.class_of(index)].fields
        read = self.row_reader(self.class_of(index), columns, RowShape(decoded=decoded))
        return dict(zip((f.system_name for f in columns), read(index), strict=True))

    # -- photos -------------------------------------------------------------------------------

    def photo_count(self, key: str) -> int:
        """How many photos a live listing has (KeyError when unknown)."""
        return int(self._derive(self._live_index(key))[0][_LISTING_POSITION["PhotosCount"]])

    def photo_description(self, key: str, number: int) -> str:
        rooms = ("Front exterior", "Living room", "Kitchen", "Primary bedroom", "Primary bath", "Backyard",
                 "Dining area", "Guest bedroom", "View from the deck", "Garage", "Street view", "Aerial")
        return rooms[0] if number == 1 else rooms[1 + (number + int(key)) % (len(rooms) - 1)]

    def photo_bytes(self, key: str, object_type: str, number: int) -> bytes:
        """A small deterministic JPEG-shaped blob (SOI, JFIF APP0, comment, scan filler, EOI)."""
        label = f"{key}:{object_type}:{number}".encode("ascii")
        size = 600 + int(key) % 900 if object_type == "Thumbnail" else 2400 + (int(key) * number) % 3000
        digest = hashlib.blake2b(label, digest_size=64).digest()
        filler = (digest * (size // 64 + 1))[:size].replace(b"\xff", b"\xfe")
        app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        comment = b"\xff\xfe" + (len(label) + 2).to_bytes(2, "big") + label
        return b"\xff\xd8" + app0 + comment + b"\xff\xda" + filler + b"\xff\xd9"
