{#- The IBGE macro-region of a Brazilian state (UF). Reference data that never changes, so a CASE
    is simpler than a seed every domain would have to depend on. -#}
{% macro uf_to_region(uf_column) -%}
    case {{ uf_column }}
        when 'AC' then 'Norte' when 'AM' then 'Norte' when 'AP' then 'Norte' when 'PA' then 'Norte'
        when 'RO' then 'Norte' when 'RR' then 'Norte' when 'TO' then 'Norte'
        when 'AL' then 'Nordeste' when 'BA' then 'Nordeste' when 'CE' then 'Nordeste'
        when 'MA' then 'Nordeste' when 'PB' then 'Nordeste' when 'PE' then 'Nordeste'
        when 'PI' then 'Nordeste' when 'RN' then 'Nordeste' when 'SE' then 'Nordeste'
        when 'DF' then 'Centro-Oeste' when 'GO' then 'Centro-Oeste' when 'MS' then 'Centro-Oeste'
        when 'MT' then 'Centro-Oeste'
        when 'ES' then 'Sudeste' when 'MG' then 'Sudeste' when 'RJ' then 'Sudeste'
        when 'SP' then 'Sudeste'
        when 'PR' then 'Sul' when 'RS' then 'Sul' when 'SC' then 'Sul'
    end
{%- endmacro %}

{#- Age band of a person born on `birth_date` as of `as_of_date`: the public products carry the
    band, never the birth date (LGPD). -#}
{% macro age_band(birth_date, as_of_date) -%}
    case
        when date_sub('year', {{ birth_date }}, {{ as_of_date }}) < 18 then 'under 18'
        when date_sub('year', {{ birth_date }}, {{ as_of_date }}) < 25 then '18-24'
        when date_sub('year', {{ birth_date }}, {{ as_of_date }}) < 35 then '25-34'
        when date_sub('year', {{ birth_date }}, {{ as_of_date }}) < 45 then '35-44'
        when date_sub('year', {{ birth_date }}, {{ as_of_date }}) < 55 then '45-54'
        when date_sub('year', {{ birth_date }}, {{ as_of_date }}) < 65 then '55-64'
        else '65+'
    end
{%- endmacro %}
