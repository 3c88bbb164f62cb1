"""Small hard-coded Brazilian reference data: states, cities, carriers, catalog categories."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

# (uf, region, population in millions (2022 census, rounded), distance tier from SP 0..4,
#  cities as (name, DDD), capital first). The tier drives SLAs and freight.
_UFS: tuple[tuple[str, str, float, int, tuple[tuple[str, int], ...]], ...] = (
    ("SP", "Sudeste", 44.4, 0, (("São Paulo", 11), ("Campinas", 19), ("Santos", 13),
                                ("Ribeirão Preto", 16), ("São José dos Campos", 12),
                                ("Sorocaba", 15), ("Guarulhos", 11))),
    ("RJ", "Sudeste", 16.1, 1, (("Rio de Janeiro", 21), ("Niterói", 21), ("Duque de Caxias", 21),
                                ("Nova Iguaçu", 21), ("Petrópolis", 24),
                                ("Campos dos Goytacazes", 22))),
    ("MG", "Sudeste", 20.5, 1, (("Belo Horizonte", 31), ("Uberlândia", 34), ("Contagem", 31),
                                ("Juiz de Fora", 32), ("Montes Claros", 38))),
    ("ES", "Sudeste", 3.8, 1, (("Vitória", 27), ("Vila Velha", 27), ("Serra", 27),
                               ("Cachoeiro de Itapemirim", 28))),
    ("PR", "Sul", 11.4, 1, (("Curitiba", 41), ("Londrina", 43), ("Maringá", 44),
                            ("Ponta Grossa", 42), ("Cascavel", 45))),
    ("SC", "Sul", 7.6, 1, (("Florianópolis", 48), ("Joinville", 47), ("Blumenau", 47),
                           ("Chapecó", 49))),
    ("RS", "Sul", 10.9, 2, (("Porto Alegre", 51), ("Caxias do Sul", 54), ("Pelotas", 53),
                            ("Canoas", 51), ("Santa Maria", 55))),
    ("DF", "Centro-Oeste", 2.8, 2, (("Brasília", 61), ("Taguatinga", 61), ("Ceilândia", 61))),
    ("GO", "Centro-Oeste", 7.1, 2, (("Goiânia", 62), ("Aparecida de Goiânia", 62),
                                    ("Anápolis", 62), ("Rio Verde", 64))),
    ("MS", "Centro-Oeste", 2.8, 2, (("Campo Grande", 67), ("Dourados", 67), ("Três Lagoas", 67))),
    ("MT", "Centro-Oeste", 3.7, 3, (("Cuiabá", 65), ("Várzea Grande", 65), ("Rondonópolis", 66),
                                    ("Sinop", 66))),
    ("BA", "Nordeste", 14.1, 2, (("Salvador", 71), ("Feira de Santana", 75),
                                 ("Vitória da Conquista", 77), ("Ilhéus", 73))),
    ("SE", "Nordeste", 2.2, 3, (("Aracaju", 79), ("Nossa Senhora do Socorro", 79),
                                ("Lagarto", 79))),
    ("AL", "Nordeste", 3.1, 3, (("Maceió", 82), ("Arapiraca", 82), ("Palmeira dos Índios", 82))),
    ("PE", "Nordeste", 9.1, 3, (("Recife", 81), ("Jaboatão dos Guararapes", 81), ("Olinda", 81),
                                ("Caruaru", 81), ("Petrolina", 87))),
    ("PB", "Nordeste", 4.0, 3, (("João Pessoa", 83), ("Campina Grande", 83), ("Santa Rita", 83))),
    ("RN", "Nordeste", 3.3, 3, (("Natal", 84), ("Mossoró", 84), ("Parnamirim", 84))),
    ("CE", "Nordeste", 8.8, 3, (("Fortaleza", 85), ("Caucaia", 85), ("Juazeiro do Norte", 88),
                                ("Sobral", 88))),
    ("PI", "Nordeste", 3.3, 3, (("Teresina", 86), ("Parnaíba", 86), ("Picos", 89))),
    ("MA", "Nordeste", 6.8, 4, (("São Luís", 98), ("Imperatriz", 99), ("Timon", 99))),
    ("TO", "Norte", 1.5, 3, (("Palmas", 63), ("Araguaína", 63), ("Gurupi", 63))),
    ("PA", "Norte", 8.1, 4, (("Belém", 91), ("Ananindeua", 91), ("Santarém", 93),
                             ("Marabá", 94))),
    ("AP", "Norte", 0.73, 4, (("Macapá", 96), ("Santana", 96))),
    ("AM", "Norte", 3.9, 4, (("Manaus", 92), ("Parintins", 92), ("Itacoatiara", 92))),
    ("RR", "Norte", 0.64, 4, (("Boa Vista", 95), ("Rorainópolis", 95))),
    ("AC", "Norte", 0.83, 4, (("Rio Branco", 68), ("Cruzeiro do Sul", 68))),
    ("RO", "Norte", 1.6, 4, (("Porto Velho", 69), ("Ji-Paraná", 69), ("Ariquemes", 69))),
)  # fmt: skip

# Share of a state's customers living in its capital; the rest spread evenly over its other cities.
_CAPITAL_SHARE = 0.5


@dataclass(frozen=True)
class Geography:
    """Flat numpy views of the reference tables: index arrays, not strings per row."""

    uf: np.ndarray  # str, per UF
    region: np.ndarray  # str, per UF
    capital: np.ndarray  # str, per UF
    tier: np.ndarray  # int64 distance tier from SP, per UF
    city_name: np.ndarray  # str, per city
    city_uf: np.ndarray  # int64 UF index, per city
    city_ddd: np.ndarray  # int64, per city
    city_weight: np.ndarray  # float64 share of all customers, per city


@cache
def geography() -> Geography:
    """The 27 UFs and their cities as flat arrays (built once)."""
    total = sum(pop for _, _, pop, _, _ in _UFS)
    names, ufs, ddds, weights = [], [], [], []
    for i, (_, _, pop, _, cities) in enumerate(_UFS):
        others = len(cities) - 1
        for j, (name, ddd) in enumerate(cities):
            share = _CAPITAL_SHARE if j == 0 else (1 - _CAPITAL_SHARE) / others
            names.append(name)
            ufs.append(i)
            ddds.append(ddd)
            weights.append(pop / total * share)
    return Geography(
        uf=np.array([u[0] for u in _UFS]),
        region=np.array([u[1] for u in _UFS]),
        capital=np.array([u[4][0][0] for u in _UFS]),
        tier=np.array([u[3] for u in _UFS], dtype=np.int64),
        city_name=np.array(names),
        city_uf=np.array(ufs, dtype=np.int64),
        city_ddd=np.array(ddds, dtype=np.int64),
        city_weight=np.array(weights),
    )


# Where every parcel is posted from: the company's distribution centre.
DISTRIBUTION_CENTRE = "Cajamar/SP"

# (carrier code, service, base SLA days to SP, extra days per distance tier, share of shipments)
CARRIER_SERVICES: tuple[tuple[str, str, int, int, float], ...] = (
    ("CORREIOS", "PAC", 4, 2, 0.30),
    ("CORREIOS", "SEDEX", 1, 1, 0.15),
    ("JADLOG", "PACKAGE", 3, 2, 0.20),
    ("LOGGI", "EXPRESS", 1, 1, 0.20),
    ("TOTAL EXPRESS", "STANDARD", 2, 2, 0.15),
)


def sla_days(service_index: np.ndarray, uf_index: np.ndarray) -> np.ndarray:
    """Promised delivery days of a carrier service to a UF: grows with the distance from SP."""
    base = np.array([s[2] for s in CARRIER_SERVICES], dtype=np.int64)
    per_tier = np.array([s[3] for s in CARRIER_SERVICES], dtype=np.int64)
    return base[service_index] + per_tier[service_index] * geography().tier[uf_index]


@dataclass(frozen=True)
class Category:
    """A catalog category: what its products are called, who makes them, what they cost."""

    name: str
    department: str
    nouns: tuple[str, ...]
    brands: tuple[str, ...]
    price_range: tuple[float, float]  # BRL, base price drawn log-uniformly in it


CATEGORIES: tuple[Category, ...] = (
    Category("Smartphones", "Eletrônicos", ("Smartphone", "Celular"),
             ("Samsung", "Motorola", "Xiaomi", "Apple", "Realme"), (700, 8000)),
    Category("Notebooks", "Informática", ("Notebook", "Ultrabook"),
             ("Lenovo", "Dell", "Acer", "Samsung", "Asus", "Positivo"), (1800, 9000)),
    Category("Periféricos", "Informática", ("Mouse", "Teclado", "Monitor", "Webcam"),
             ("Logitech", "Multilaser", "Redragon", "LG"), (40, 1800)),
    Category("TVs", "Eletrônicos", ("Smart TV", "TV LED"),
             ("Samsung", "LG", "TCL", "Philco", "AOC"), (1100, 6500)),
    Category("Áudio", "Eletrônicos", ("Fone de Ouvido", "Caixa de Som", "Soundbar"),
             ("JBL", "Sony", "Edifier", "Philips"), (60, 2500)),
    Category("Geladeiras", "Eletrodomésticos", ("Geladeira", "Refrigerador", "Freezer"),
             ("Brastemp", "Consul", "Electrolux", "Panasonic"), (1900, 7500)),
    Category("Lavadoras", "Eletrodomésticos", ("Máquina de Lavar", "Lava e Seca"),
             ("Brastemp", "Electrolux", "LG", "Consul"), (1400, 5000)),
    Category("Eletroportáteis", "Eletrodomésticos",
             ("Air Fryer", "Liquidificador", "Cafeteira", "Ventilador", "Aspirador de Pó"),
             ("Mondial", "Philco", "Arno", "Oster", "Britânia", "Electrolux"), (80, 900)),
    Category("Cama, Mesa e Banho", "Casa", ("Jogo de Lençol", "Toalha de Banho", "Edredom"),
             ("Santista", "Buddemeyer", "Teka", "Altenburg"), (35, 450)),
    Category("Móveis", "Casa", ("Sofá", "Mesa de Jantar", "Guarda-Roupa", "Rack", "Cadeira"),
             ("Mobly", "Madesa", "Politorno", "Tok&Stok"), (250, 4200)),
    Category("Utilidades Domésticas", "Casa",
             ("Jogo de Panelas", "Jogo de Facas", "Garrafa Térmica", "Frigideira"),
             ("Tramontina", "Rochedo", "Brinox", "Electrolux"), (30, 700)),
    Category("Calçados", "Moda", ("Tênis", "Sandália", "Bota", "Chinelo"),
             ("Nike", "Adidas", "Olympikus", "Havaianas", "Mizuno"), (30, 900)),
    Category("Roupas", "Moda", ("Camiseta", "Calça Jeans", "Vestido", "Jaqueta", "Bermuda"),
             ("Hering", "Malwee", "Reserva", "Colcci"), (35, 450)),
    Category("Acessórios", "Moda", ("Relógio", "Mochila", "Óculos de Sol", "Carteira"),
             ("Technos", "Mormaii", "Chilli Beans", "Samsonite"), (50, 1200)),
    Category("Perfumaria", "Beleza e Saúde", ("Perfume", "Desodorante", "Body Splash"),
             ("Natura", "O Boticário", "Avon", "Eudora"), (20, 600)),
    Category("Cuidados Pessoais", "Beleza e Saúde",
             ("Shampoo", "Creme Hidratante", "Protetor Solar", "Escova Elétrica"),
             ("Nivea", "Dove", "La Roche-Posay", "Oral-B"), (15, 350)),
    Category("Fitness", "Esporte e Lazer", ("Halteres", "Esteira", "Bicicleta Ergométrica"),
             ("Kikos", "Movement", "Dream Fitness"), (60, 4500)),
    Category("Ciclismo", "Esporte e Lazer", ("Bicicleta", "Capacete", "Bomba de Ar"),
             ("Caloi", "Houston", "Oggi", "Absolute"), (60, 3800)),
    Category("Brinquedos", "Infantil", ("Boneca", "Carrinho", "Quebra-Cabeça", "Blocos de Montar"),
             ("Estrela", "Mattel", "Hasbro", "Lego", "Grow"), (30, 700)),
    Category("Livros", "Livros e Papelaria", ("Livro", "Box de Livros", "HQ"),
             ("Companhia das Letras", "Intrínseca", "Rocco", "Panini"), (20, 250)),
    Category("Papelaria", "Livros e Papelaria", ("Caderno", "Estojo", "Kit Canetas", "Agenda"),
             ("Tilibra", "Faber-Castell", "BIC", "Stabilo"), (6, 150)),
    Category("Games", "Games", ("Console", "Controle", "Headset Gamer", "Jogo"),
             ("Sony", "Microsoft", "Nintendo", "HyperX"), (120, 5000)),
    Category("Pet Shop", "Mercado", ("Ração para Cães", "Ração para Gatos", "Areia Sanitária"),
             ("Pedigree", "Whiskas", "Premier", "Golden"), (20, 320)),
    Category("Bebidas", "Mercado", ("Café em Grãos", "Vinho Tinto", "Cerveja Artesanal"),
             ("3 Corações", "Melitta", "Casillero del Diablo", "Baden Baden"), (15, 260)),
)  # fmt: skip

# How a product line is called after its brand (product names are noun + brand + line + colour).
PRODUCT_LINES: tuple[str, ...] = (
    "Pro", "Plus", "Max", "Lite", "Ultra", "Prime", "Essencial", "Clássico", "Premium", "Slim",
    "Eco", "Turbo", "Style", "Comfort", "Smart", "Compact", "Select", "Original", "Master", "Fit",
)  # fmt: skip
