// A JSON text area for Form.Item: validates as you type and can pretty-print.
import { Button, Flex, Input, Typography } from 'antd';
import type { Rule } from 'antd/es/form';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { formatJson, type JsonCheck } from '../lib/json';

export interface JsonEditorProps {
  value?: string;
  onChange?: (value: string) => void;
  validate: (text: string) => JsonCheck;
  rows?: number;
  placeholder?: string;
  testId?: string;
  allowEmpty?: boolean;
}

export function jsonErrorText(check: JsonCheck, t: TFunction): string {
  return check.ok ? '' : t(check.error, check.params ?? {});
}

/** A Form rule running `validate` (blank passes when allowEmpty). */
export function jsonRule(validate: (text: string) => JsonCheck, t: TFunction, allowEmpty = true): Rule {
  return {
    validator: async (_rule, value?: string) => {
      const text = value ?? '';
      if (allowEmpty && text.trim() === '') return;
      const check = validate(text);
      if (!check.ok) throw new Error(jsonErrorText(check, t));
    },
  };
}

export default function JsonEditor({ value, onChange, validate, rows = 8, placeholder, testId, allowEmpty = true }: JsonEditorProps) {
  const { t } = useTranslation();
  const text = value ?? '';
  const check = allowEmpty && text.trim() === '' ? null : validate(text);
  return (
    <div>
      <Input.TextArea
        data-testid={testId}
        value={text}
        rows={rows}
        placeholder={placeholder}
        spellCheck={false}
        style={{ fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace' }}
        onChange={(e) => onChange?.(e.target.value)}
      />
      <Flex justify="space-between" align="center" style={{ marginTop: 4 }}>
        {/* Errors are shown by the Form.Item rule (jsonRule); here only the good news. */}
        <Typography.Text type="success" style={{ fontSize: 12 }}>
          {check?.ok ? t('json.valid') : ''}
        </Typography.Text>
        <Button size="small" disabled={!check?.ok} onClick={() => onChange?.(formatJson(text))}>
          {t('json.format')}
        </Button>
      </Flex>
    </div>
  );
}
